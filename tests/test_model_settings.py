"""The model a project trains comes from its settings: head (logistic regression or the torch head
with its loss), Other bucket, calibration and hierarchy mode; the API and the settings page refuse
combinations that cannot work, and every choice shows in the trained version's report."""
import pytest
from rest_framework.test import APIClient

from labeling.projects.models import Label, Project
from tests import test_loop_helpers as helpers

eager_celery = helpers.eager_celery


def api_as(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
def test_api_refuses_a_loss_without_the_torch_head_and_unknown_choices(world):
    lead = api_as(world["lead"])
    bad = lead.patch("/api/projects/alpha/", {"head_loss": "focal"}, format="json")
    assert bad.status_code == 400
    assert "torch head" in bad.json()["head_loss"][0]
    bad = lead.patch("/api/projects/alpha/", {"hierarchy_mode": "sideways"}, format="json")
    assert bad.status_code == 400 and "hierarchy_mode" in bad.json()
    bad = lead.patch("/api/projects/alpha/", {"other_min_examples": 20000}, format="json")
    assert bad.status_code == 400 and "0 (off)" in bad.json()["other_min_examples"][0]
    good = lead.patch("/api/projects/alpha/", {"head": "torch", "head_loss": "focal", "other_min_examples": 5,
                                               "calibration": "platt", "hierarchy_mode": "flat"}, format="json")
    assert good.status_code == 200, good.json()
    project = Project.objects.get(slug="alpha")
    assert (project.head, project.head_loss, project.other_min_examples, project.calibration,
            project.hierarchy_mode) == ("torch", "focal", 5, "platt", "flat")


@pytest.mark.django_db
def test_settings_page_refuses_the_same_combination_with_the_same_words(world, client):
    from labeling.projects.forms import ProjectSettingsForm

    project = world["alpha"]
    data = {f: getattr(project, f) for f in ProjectSettingsForm.Meta.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data.update(head="logreg", head_loss="logit_adjusted")
    form = ProjectSettingsForm(data, instance=project)
    assert not form.is_valid()
    assert any(field == "head_loss" and "torch head" in message for field, message in form.error_summary())


def _embed_label_texts(project):
    import numpy as np
    from django.conf import settings

    from labeling.modeling.models import Embedding
    from learner.text import text_hash

    rng = np.random.default_rng(1)
    for label in project.labels.all():
        vec = helpers.unit(rng, 1)[0]
        Embedding.objects.get_or_create(model_id=settings.LONGTAIL_MODEL_ID,
                                        text_hash=text_hash(helpers.label_text(label)),
                                        defaults={"vector": vec.tobytes()})


def test_torch_head_other_bucket_and_forced_structure_reach_the_report(db, project_factory, eager_celery,
                                                                        django_capture_on_commit_callbacks):
    from labeling.modeling.selectors import model_choices
    from labeling.modeling.versions import active_model, load_classifier

    project, _ = helpers.build_project(project_factory, slug="heads", labels=("billing", "refund", "login", "fraud"),
                                       shares=(0.4, 0.3, 0.25, 0.05), n_labeled=80, head="torch",
                                       head_loss="logit_adjusted", other_min_examples=8, calibration="temperature",
                                       hierarchy_mode="hierarchical")
    money = Label.objects.create(project=project, name="money", order=10)
    Label.objects.filter(project=project, name__in=["billing", "refund"]).update(parent=money)
    account = Label.objects.create(project=project, name="account", order=11)
    Label.objects.filter(project=project, name__in=["login", "fraud"]).update(parent=account)
    _embed_label_texts(project)  # the planner embeds label texts: pre-fill them, no encoder needed
    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    version = active_model(project)
    assert version is not None, run.message
    report = version.metrics
    assert report["config"]["head"] == "torch" and report["config"]["loss"] == "logit_adjusted"
    assert report["config"]["hierarchy"] == "coarse_then_fine" and report["hierarchy_choice"] is None
    choices = model_choices(version)
    assert choices["head"]["name"] == "torch" and choices["head"]["device"] in ("cpu", "cuda")
    assert choices["structure"] == "coarse_then_fine"
    assert choices["other_bucket"]["min_examples"] == 8
    assert "torch head, logit_adjusted loss" in choices["summary"]
    clf = load_classifier(version)
    # the served estimator is the configured one: coarse → fine, torch heads inside
    assert type(clf.model.coarse_head_).__name__ == "TorchHead"
    # the model API shows the choices
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("boss", "b@example.org", "pw-Longtail-123")
    listed = api_as(admin).get(f"/api/projects/{project.slug}/models/").json()
    assert listed["results"][0]["choices"]["summary"] == choices["summary"]
    page = APIClient()
    page.force_login(admin)
    html = page.get(f"/p/{project.slug}/waves/").content.decode()
    assert "torch head, logit_adjusted loss" in html
