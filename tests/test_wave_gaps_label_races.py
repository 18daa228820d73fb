"""A label deleted while a wave is planned, on two real PostgreSQL connections (one per thread).

The plan's picks refer to the label the model predicts for them (WaveItem.predicted_label), and
foreign keys are checked at commit: unheld, a label deleted while the plan ran failed the plan's
commit (IntegrityError) after all its work. The plan now holds the project's labels (FOR KEY SHARE),
so the two serialize, either way round:

* the plan first: the deletion waits for the plan's commit, then clears the picks' references
  (SET_NULL) and deletes the label;
* the deletion first: the plan waits for it, then plans without the label. The model still knows
  it (it was trained when the label had answers), so its column is left out until the next retrain
  and the wave's report says so, instead of the plan stopping on a label the project no longer has.

Each race is made deterministic as in test_concurrency_races: one side is held inside its
transaction right after the statement that matters, until the other waits on a row lock or is done.
Model v1 is trained for real; its fraud answers are then removed (as an admin may, in the Django
admin), which is what lets a label the model predicts be deleted at all: answers protect their label.
"""
import pytest

from labeling.annotations.models import Annotation
from labeling.modeling.models import TaskRun
from labeling.projects.models import Label
from labeling.projects.services import delete_label, save_label
from labeling.waves import services as waves
from labeling.waves.models import Wave, WaveItem

from .test_concurrency_races import Hold, race
from .test_loop_helpers import build_project, eager_celery, retrain  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fraud_predicted(postgres_only, project_factory, eager_celery, django_capture_on_commit_callbacks):  # noqa: F811
    """v1 active (it predicts fraud), wave 1 open, and fraud without answers: deletable."""
    project, _ = build_project(project_factory, slug="label-race", n_items=240, n_labeled=60,
                               double_label_share=0.0, wave_size=20, batch_size=5)
    assert retrain(project, django_capture_on_commit_callbacks).state == TaskRun.DONE
    fraud = project.labels.get(name="fraud")
    assert Annotation.objects.filter(label=fraud).delete()[0] > 0
    return project, fraud


def _predicted_as(wave: Wave, name: str) -> int:
    return sum(cell["count"] for cell in wave.report["composition"] if cell["predicted_label"] == name)


def _outcome(out):
    assert "error" not in out, repr(out.get("error"))
    return out["result"]


def test_a_label_deleted_while_the_plan_is_stored_waits_for_the_plan(fraud_predicted):
    project, fraud = fraud_predicted
    planned, deleted, waited = race(Hold('INSERT INTO "waves_waveitem"'), lambda: waves.plan_next_wave(project),
                                    lambda: delete_label(Label.objects.get(pk=fraud.pk)))
    wave, _ = _outcome(planned), _outcome(deleted)
    assert waited  # the deletion waited for the plan's hold on the label
    wave.refresh_from_db()
    assert wave.state == Wave.PLANNED and wave.size == 20 == WaveItem.objects.filter(wave=wave).count()
    as_fraud = _predicted_as(wave, "fraud")
    assert as_fraud > 0  # the plan did refer to fraud when it was stored ...
    # ... and the deletion, which ran after the plan's commit, cleared those references.
    assert not Label.objects.filter(pk=fraud.pk).exists()
    assert WaveItem.objects.filter(wave=wave, predicted_label__isnull=True).count() == as_fraud


def test_a_plan_started_while_a_label_is_deleted_waits_and_plans_without_it(fraud_predicted):
    project, fraud = fraud_predicted
    deleted, planned, waited = race(Hold('DELETE FROM "projects_label"'),
                                    lambda: delete_label(Label.objects.get(pk=fraud.pk)),
                                    lambda: waves.plan_next_wave(project))
    _, wave = _outcome(deleted), _outcome(planned)
    assert waited  # the plan waited for the deletion
    assert not Label.objects.filter(pk=fraud.pk).exists()
    wave.refresh_from_db()
    assert wave.state == Wave.PLANNED and wave.size == 20 == WaveItem.objects.filter(wave=wave).count()
    assert _predicted_as(wave, "fraud") == 0
    assert "model v1 knows 'fraud', which the project no longer lists" in wave.report["timings"][
        "model_labels_not_listed"]


@pytest.mark.django_db
def test_a_label_renamed_since_the_model_trained_does_not_stop_planning(project_factory, eager_celery,  # noqa: F811
                                                                         django_capture_on_commit_callbacks):
    """Without a race: the model knows "login" by its old name, and keeps the column (its label's id)."""
    project, _ = build_project(project_factory, slug="label-renamed", n_items=240, n_labeled=60,
                               double_label_share=0.0, wave_size=20, batch_size=5)
    assert retrain(project, django_capture_on_commit_callbacks).state == TaskRun.DONE
    save_label(project, project.labels.get(name="login"), name="sign-in")
    wave = waves.plan_next_wave(project)
    assert wave.state == Wave.PLANNED and wave.size == 20
    assert "model_labels_not_listed" not in wave.report["timings"]
    names = {cell["predicted_label"] for cell in wave.report["composition"]}
    assert "login" not in names and names <= {*project.labels.values_list("name", flat=True), None}
