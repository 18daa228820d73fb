"""The model a project trains comes from its settings: head (logistic regression or the torch head
with its loss), Other bucket, calibration, hierarchy mode, label-name prior, the class mix the
thresholds hold on and the guard against unseen confusions; the API and the settings page refuse
combinations that cannot work, and every choice shows in the trained version's report."""
from types import SimpleNamespace

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from labeling.modeling.models import Embedding
from labeling.modeling.selectors import model_choices
from labeling.modeling.versions import active_model, load_classifier, train_version
from labeling.projects.dashboard import dashboard_data, thresholds_table
from labeling.projects.forms import ProjectSettingsForm
from labeling.projects.models import Label, Project, described, settings_errors
from learner.text import exact_text_hash
from learner.training import TrainConfig
from tests import test_loop_helpers as helpers
from tests.test_lead_settings_forms import settings_post

eager_celery = helpers.eager_celery


def api_as(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def saved_from_settings_page(client, lead, field: str, posted: str, *shown: str):
    """As the lead: the settings page shows ``field`` (and the ``shown`` texts); posting ``posted``
    for it redirects; returns the value then stored."""
    client.force_login(lead)
    page = client.get("/p/alpha/settings/").content.decode()
    assert f'name="{field}"' in page and all(text in page for text in shown)
    response = settings_post(client, {field: posted})
    assert response.status_code == 302, response.content.decode()[:2000]
    return getattr(Project.objects.get(slug="alpha"), field)


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
    project = world["alpha"]
    data = {f: getattr(project, f) for f in ProjectSettingsForm.Meta.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data.update(head="logreg", head_loss="logit_adjusted")
    form = ProjectSettingsForm(data, instance=project)
    assert not form.is_valid()
    assert any(field == "head_loss" and "torch head" in message for field, message in form.error_summary())


def _embed_label_texts(project):
    rng = np.random.default_rng(1)
    for label in project.labels.all():
        vec = helpers.unit(rng, 1)[0]
        Embedding.objects.get_or_create(model_id=settings.LONGTAIL_MODEL_ID,
                                        text_hash=exact_text_hash(helpers.label_text(label)),
                                        defaults={"vector": vec.tobytes()})


def _two_coarse_labels(project):
    """money > billing, refund; account > login, fraud."""
    money = Label.objects.create(project=project, name="money", order=10)
    Label.objects.filter(project=project, name__in=["billing", "refund"]).update(parent=money)
    account = Label.objects.create(project=project, name="account", order=11)
    Label.objects.filter(project=project, name__in=["login", "fraud"]).update(parent=account)


def test_torch_head_other_bucket_and_forced_structure_reach_the_report(db, project_factory, eager_celery,
                                                                        django_capture_on_commit_callbacks):

    project, _ = helpers.build_project(project_factory, slug="heads", labels=("billing", "refund", "login", "fraud"),
                                       shares=(0.4, 0.3, 0.25, 0.05), n_labeled=80, head="torch",
                                       head_loss="logit_adjusted", other_min_examples=8, calibration="temperature",
                                       hierarchy_mode="hierarchical")
    _two_coarse_labels(project)
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

    admin = get_user_model().objects.create_superuser("boss", "b@example.org", "pw-Longtail-123")
    listed = api_as(admin).get(f"/api/projects/{project.slug}/models/").json()
    assert listed["results"][0]["choices"]["summary"] == choices["summary"]
    page = APIClient()
    page.force_login(admin)
    html = page.get(f"/p/{project.slug}/waves/").content.decode()
    assert "torch head, logit_adjusted loss" in html


@pytest.mark.django_db
def test_label_prior_setting_is_validated_on_the_api_and_the_settings_page(world):
    lead = api_as(world["lead"])
    assert Project.objects.get(slug="alpha").label_prior == "auto"
    bad = lead.patch("/api/projects/alpha/", {"label_prior": "sometimes"}, format="json")
    assert bad.status_code == 400 and "sometimes" in bad.json()["label_prior"][0]
    # the shared check names the setting as the page shows it (model.clean, form and API call it)

    assert settings_errors(SimpleNamespace(label_prior="sometimes"))["label_prior"] == (
        "Label-name prior must be one of auto, on, off; got 'sometimes'.")
    assert "label_prior" not in settings_errors(SimpleNamespace(label_prior="on"))
    good = lead.patch("/api/projects/alpha/", {"label_prior": "off"}, format="json")
    assert good.status_code == 200 and good.json()["label_prior"] == "off"
    project = Project.objects.get(slug="alpha")
    assert project.label_prior == "off"
    data = {f: getattr(project, f) for f in ProjectSettingsForm.Meta.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data.update(label_prior="sometimes")
    form = ProjectSettingsForm(data, instance=project)
    assert not form.is_valid() and "label_prior" in form.errors


def test_label_prior_setting_and_its_evidence_reach_the_report(db, project_factory, eager_celery,
                                                               django_capture_on_commit_callbacks):

    # "chargeback" has no labeled item: only its name can put it in the model.
    project, _ = helpers.build_project(project_factory, slug="prior", labels=("billing", "login", "fraud", "chargeback"),
                                       shares=(0.6, 0.3, 0.1, 0.0), n_labeled=60)
    helpers.retrain(project, django_capture_on_commit_callbacks)
    auto = active_model(project)
    assert auto is not None
    evidence = auto.metrics["label_prior_choice"]
    assert evidence["requested"] == "auto" and set(evidence["macro_f1"]) == {"on", "off"}
    assert evidence["rows_compared"] == 60 and evidence["prior_rows"] >= 1
    choices = model_choices(auto)
    assert choices["label_prior"]["setting"] == "auto"
    assert choices["label_prior"]["chosen_by"] == "out-of-fold evidence"
    assert "chosen by out-of-fold macro-F1: with" in choices["summary"]

    Project.objects.filter(pk=project.pk).update(label_prior="on")
    project.refresh_from_db()
    helpers.retrain(project, django_capture_on_commit_callbacks)
    forced = active_model(project)
    assert forced.number > auto.number
    assert forced.metrics["config"]["label_prior"] == "on" and forced.metrics["label_prior_choice"] is None
    assert forced.metrics["label_prior"]["labels"] >= 1 and "chargeback" in forced.label_map
    choices = model_choices(forced)
    assert choices["label_prior"] == {"setting": "on", "used": True, "rows": forced.metrics["label_prior"]["labels"],
                                      "chosen_by": "configuration"}
    assert "label-name prior on" in choices["summary"] and "setting on" in choices["summary"]


@pytest.mark.django_db
def test_label_prior_is_on_the_settings_page_and_saved_from_it(world, client):
    assert saved_from_settings_page(client, world["lead"], "label_prior", "on", "Label-name prior") == "on"


@pytest.mark.django_db
def test_threshold_mix_setting_is_validated_on_the_api_and_saved_from_the_settings_page(world, client):
    lead = api_as(world["lead"])
    assert Project.objects.get(slug="alpha").threshold_mix == "pool" == TrainConfig().threshold_mix  # sim = product
    bad = lead.patch("/api/projects/alpha/", {"threshold_mix": "deployment"}, format="json")
    assert bad.status_code == 400 and "deployment" in bad.json()["threshold_mix"][0]
    assert settings_errors(SimpleNamespace(threshold_mix="deployment"))["threshold_mix"] == (
        "Thresholds hold on must be one of pool, uniform, labeled; got 'deployment'.")
    good = lead.patch("/api/projects/alpha/", {"threshold_mix": "uniform"}, format="json")
    assert good.status_code == 200 and good.json()["threshold_mix"] == "uniform"
    assert Project.objects.get(slug="alpha").threshold_mix == "uniform"
    assert saved_from_settings_page(client, world["lead"], "threshold_mix", "labeled",
                                    "like the pool", "as labeled") == "labeled"
    project = Project.objects.get(slug="alpha")
    data = {f: ("" if getattr(project, f) is None else getattr(project, f)) for f in ProjectSettingsForm.Meta.fields}
    data.update(threshold_mix="sometimes")
    form = ProjectSettingsForm(data, instance=project)
    assert not form.is_valid() and "threshold_mix" in form.errors


def test_threshold_mix_reaches_the_trained_version_and_its_report(db, project_factory, eager_celery,
                                                                  django_capture_on_commit_callbacks):
    """Default "pool": the retrain estimates the class mix from the unlabeled sample (also with
    self-training off) and the version says so; "labeled" keeps the labeled items' mix."""
    project, _ = helpers.build_project(project_factory, slug="mix", n_items=300, n_labeled=90)
    Label.objects.filter(project=project).update(precision_target=0.9)
    helpers.retrain(project, django_capture_on_commit_callbacks)
    pooled = active_model(project)
    mix = pooled.metrics["threshold_mix"]
    assert mix["setting"] == "pool" and mix["used"] == "pool" and mix["em"]["converged"]
    assert mix["unlabeled_rows"] == 300 - 90 and abs(sum(mix["shares"].values()) - 1) < 1e-9
    choices = model_choices(pooled)
    assert choices["threshold_mix"]["used"] == "pool"
    assert "thresholds hold on the pool's class mix (estimated from 210 unlabeled items)" in choices["summary"]

    no_self_training = train_version(project, train_config={"self_training": False})
    assert no_self_training.metrics["self_training"] is None
    assert no_self_training.metrics["threshold_mix"]["used"] == "pool"

    Project.objects.filter(pk=project.pk).update(threshold_mix="labeled")
    project.refresh_from_db()
    helpers.retrain(project, django_capture_on_commit_callbacks)
    labeled = active_model(project)
    assert labeled.metrics["config"]["threshold_mix"] == "labeled"
    assert labeled.metrics["threshold_mix"]["used"] == "labeled" and labeled.metrics["threshold_mix"]["shares"] is None
    assert "thresholds hold on the labeled items' class mix" in model_choices(labeled)["summary"]


def test_setting_choices_must_name_exactly_the_learners_modes():
    assert described(("a", "b"), {"b": "B", "a": "A"}) == [("b", "B"), ("a", "A")]  # display order kept
    with pytest.raises(ImproperlyConfigured, match="do not match"):
        described(("labeled", "pool", "uniform", "stated"), {"pool": "", "uniform": "", "labeled": ""})
    with pytest.raises(ImproperlyConfigured):
        described(("auto", "on"), {"auto": "", "on": "", "off": ""})


@pytest.mark.django_db
def test_threshold_guard_is_off_by_default_and_saved_from_the_api_and_the_settings_page(world, client):
    assert Project.objects.get(slug="alpha").threshold_guard is False
    assert TrainConfig().threshold_unseen_prior == 0  # the simulation trains as a project does by default
    lead = api_as(world["lead"])
    good = lead.patch("/api/projects/alpha/", {"threshold_guard": True}, format="json")
    assert good.status_code == 200 and good.json()["threshold_guard"] is True
    assert Project.objects.get(slug="alpha").threshold_guard is True
    bad = lead.patch("/api/projects/alpha/", {"threshold_guard": "perhaps"}, format="json")
    assert bad.status_code == 400 and "threshold_guard" in bad.json()
    Project.objects.filter(slug="alpha").update(threshold_guard=False)
    assert saved_from_settings_page(client, world["lead"], "threshold_guard", "on",
                                    "Guard thresholds against unseen confusions") is True


def test_threshold_guard_reaches_the_trained_version_and_raises_no_threshold(db, project_factory, eager_celery,
                                                                            django_capture_on_commit_callbacks):
    """The same labels trained with and without the guard: the guarded version's report counts
    confusions the labeled items do not show against its thresholds, none of its thresholds is
    lower, and its summary says it is guarded."""
    project, _ = helpers.build_project(project_factory, slug="guard", n_items=300, n_labeled=120)
    Label.objects.filter(project=project).update(precision_target=0.9)
    helpers.retrain(project, django_capture_on_commit_callbacks)
    plain = active_model(project)
    Project.objects.filter(pk=project.pk).update(threshold_guard=True)
    project.refresh_from_db()
    helpers.retrain(project, django_capture_on_commit_callbacks)
    guarded = active_model(project)
    assert guarded.number > plain.number
    assert plain.metrics["config"]["threshold_unseen_prior"] == 0
    assert guarded.metrics["config"]["threshold_unseen_prior"] > 0
    plain_rows = {row["label"]: row for row in plain.metrics["thresholds"]}
    guarded_rows = {row["label"]: row for row in guarded.metrics["thresholds"]}
    assert not any(row["unseen_confusion"] for row in plain_rows.values())  # None where nothing is kept
    assert any((row["unseen_confusion"] or 0) > 0 for row in guarded_rows.values())
    plain_model, guarded_model = load_classifier(plain), load_classifier(guarded)
    for label in plain_model.thresholds:
        assert guarded_model.thresholds[label] >= plain_model.thresholds[label], label
    assert "guarded against confusions the labeled items do not show" in model_choices(guarded)["summary"]
    assert "guarded" not in model_choices(plain)["summary"]
    table = dashboard_data(project)["thresholds"]
    assert "guarded against confusions" in table["source"]
    assert any((row["unseen_confusion_share"] or 0) > 0 for row in table["rows"])
    assert all("unseen_confusion_share" not in row for row in thresholds_table(plain, None)["rows"])


def test_blended_structure_is_saved_trained_served_and_named(db, project_factory, eager_celery,
                                                             django_capture_on_commit_callbacks):
    project, _ = helpers.build_project(project_factory, slug="blended", labels=("billing", "refund", "login", "fraud"),
                                       shares=(0.4, 0.3, 0.25, 0.05), n_labeled=80)
    lead = get_user_model().objects.create_superuser("lead-b", "lb@example.org", "pw-Longtail-123")
    saved = api_as(lead).patch(f"/api/projects/{project.slug}/", {"hierarchy_mode": "blended"}, format="json")
    assert saved.status_code == 200 and saved.json()["hierarchy_mode"] == "blended"
    project.refresh_from_db()
    _two_coarse_labels(project)
    _embed_label_texts(project)
    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    version = active_model(project)
    assert version is not None, run.message
    assert version.metrics["config"]["hierarchy"] == "blend" and version.metrics["hierarchy_choice"] is None
    choices = model_choices(version)
    assert choices["structure"] == "blend"
    assert "blend of flat and coarse → fine (configuration)" in choices["summary"]
    assert type(load_classifier(version).model).__name__ == "BlendedHead"


@pytest.mark.django_db
def test_class_weights_setting_is_validated_and_saved_from_the_api_and_the_settings_page(world, client):
    # inverse frequency, w_c = N / (K · n_c), is the brief's method and the default
    assert Project.objects.get(slug="alpha").class_weights == TrainConfig().weighting == "inverse"
    lead = api_as(world["lead"])
    bad = lead.patch("/api/projects/alpha/", {"class_weights": "squared"}, format="json")
    assert bad.status_code == 400 and "squared" in bad.json()["class_weights"][0]
    good = lead.patch("/api/projects/alpha/", {"class_weights": "effective"}, format="json")
    assert good.status_code == 200 and good.json()["class_weights"] == "effective"
    assert Project.objects.get(slug="alpha").class_weights == "effective"
    assert saved_from_settings_page(client, world["lead"], "class_weights", "none", "Class weights") == "none"


def versions_before_and_after(project_factory, on_commit, slug: str, **setting):
    """The active version of a three-label project retrained under the defaults, then under
    ``setting`` (Project fields) on the same labels."""
    project, _ = helpers.build_project(project_factory, slug=slug, labels=("billing", "login", "fraud"),
                                       shares=(0.7, 0.25, 0.05), n_items=300, n_labeled=120)
    helpers.retrain(project, on_commit)
    before = active_model(project)
    Project.objects.filter(pk=project.pk).update(**setting)
    project.refresh_from_db()
    helpers.retrain(project, on_commit)
    return before, active_model(project)


def test_class_weights_setting_reaches_the_trained_head_and_its_report(db, project_factory, eager_celery,
                                                                      django_capture_on_commit_callbacks):
    """The same labels under effective-number weights and under the default, inverse frequency: each
    version's head weighs its classes as set, inverse frequency spreading the weights of a common and
    a rare label further apart, and the report and its summary name the weighting."""
    inverse, effective = versions_before_and_after(project_factory, django_capture_on_commit_callbacks,
                                                   "weights", class_weights="effective")
    assert effective.number > inverse.number
    assert effective.metrics["config"]["weighting"] == "effective"
    assert inverse.metrics["config"]["weighting"] == "inverse"
    assert "effective-number class weights" in model_choices(effective)["summary"]
    assert "inverse-frequency class weights" in model_choices(inverse)["summary"]

    def spread(version):
        weights = load_classifier(version).class_weights
        return max(weights.values()) / min(weights.values())

    assert spread(inverse) > spread(effective) > 1


@pytest.mark.django_db
def test_matched_calibration_is_a_choice_on_the_api_and_the_settings_page(world, client):
    assert Project.objects.get(slug="alpha").calibration == "temperature"  # the default stays plain temperature
    lead = api_as(world["lead"])
    good = lead.patch("/api/projects/alpha/", {"calibration": "temperature_matched"}, format="json")
    assert good.status_code == 200 and good.json()["calibration"] == "temperature_matched"
    assert lead.patch("/api/projects/alpha/", {"calibration": "temperature"}, format="json").status_code == 200
    shown = "matched on unlabeled items"
    assert saved_from_settings_page(client, world["lead"], "calibration", "temperature_matched",
                                    shown) == "temperature_matched"


def test_matched_calibration_reaches_the_served_temperature_and_its_report(db, project_factory, eager_celery,
                                                                          django_capture_on_commit_callbacks):
    """With "temperature_matched" the version serves its own temperature, matched on the retrain's
    unlabeled sample; the out-of-fold one is kept in the report and the summary says so."""
    plain, matched = versions_before_and_after(project_factory, django_capture_on_commit_callbacks,
                                               "matched", calibration="temperature_matched")
    assert matched.number > plain.number
    assert "temperature_out_of_fold" not in plain.metrics["calibration"]
    calibration = matched.metrics["calibration"]
    assert matched.metrics["config"]["match_temperature"] is True
    assert calibration["matched_on_unlabeled"] >= 50
    assert matched.temperature == pytest.approx(calibration["temperature"])
    assert calibration["temperature_out_of_fold"] != pytest.approx(calibration["temperature"])
    assert load_classifier(matched).temperature == pytest.approx(matched.temperature)
    assert "served model matched on" in model_choices(matched)["summary"]
    assert "matched on" not in model_choices(plain)["summary"]
