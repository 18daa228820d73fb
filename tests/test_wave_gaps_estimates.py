"""A planned wave's picks in the pool estimates, on real PostgreSQL: nobody was asked them yet,
and the plan may still be discarded instead of opened, so they are not drawn picks. Counting them
as "open" (drawn, not yet answered) added them to the sample's counts and widened every range as
if annotators had them. They join the sample when their wave opens.

Model v1 is trained for real; wave 1 (planned and opened by the retrain with v1) is answered on its
known-π picks with the items' true labels and closed; wave 2 is planned with v1, then opened."""
import uuid

import pytest

from labeling.annotations.models import Annotation
from labeling.modeling.models import TaskRun
from labeling.modeling.versions import active_model
from labeling.projects.estimates import version_estimates
from labeling.waves import services as waves
from labeling.waves.models import Wave, WaveItem

from .test_loop_helpers import build_project, eager_celery, retrain  # noqa: F401

pytestmark = pytest.mark.django_db


def _known_pi_picks(wave) -> list[int]:
    return list(WaveItem.objects.filter(wave=wave, inclusion_prob__isnull=False).values_list("item_id", flat=True))


def test_a_planned_wave_is_not_in_the_sample_until_it_opens(project_factory, make_user,
                                                            eager_celery, django_capture_on_commit_callbacks):  # noqa: F811
    project, truth = build_project(project_factory, slug="est-planned", n_items=400, n_labeled=60,
                                   double_label_share=0.0, wave_size=60, batch_size=10, random_share=0.5)
    assert retrain(project, django_capture_on_commit_callbacks).state == TaskRun.DONE
    v1 = active_model(project)
    first = Wave.objects.get(project=project, number=1)
    assert first.state == Wave.OPEN and first.model_version_id == v1.pk
    labels = {label.name: label for label in project.labels.all()}
    annotator = make_user("ann")
    answered = _known_pi_picks(first)
    Annotation.objects.bulk_create([Annotation(project=project, item_id=item_id, label=labels[truth[item_id]],
                                               annotator=annotator, client_id=uuid.uuid4()) for item_id in answered])
    waves.close_wave(first)
    before = version_estimates(project, [v1])[v1.number]
    assert before["sample"]["drawn"] == before["sample"]["answered"] == len(answered) >= 20
    assert before["sample"]["open"] == 0

    planned = waves.plan_next_wave(project)
    ahead = _known_pi_picks(planned)
    assert planned.state == Wave.PLANNED and planned.model_version_id == v1.pk and len(ahead) >= 10
    # Not asked yet: the estimates are what they were, counts, figures and ranges alike.
    assert version_estimates(project, [v1])[v1.number] == before

    waves.open_wave(planned)
    after = version_estimates(project, [v1])[v1.number]
    assert after["sample"]["drawn"] == len(answered) + len(ahead) and after["sample"]["open"] == len(ahead)
    assert after["sample"]["summary"].endswith(f"{len(ahead)} still open; unanswered picks are treated as "
                                               "missing at random")
    ranged = [row["label"] for row in after["labels"] if row["prevalence_range"] is not None]
    assert ranged and all(row["prevalence_range"] is None for row in before["labels"])
