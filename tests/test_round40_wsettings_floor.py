"""The fine-label floor a lead sets: served as set when the lead forces a structure, shown with the
floor served (and the one set) on the waves page's Model line and the dashboard caption when label
hierarchy "auto" picks another by out-of-fold evidence; and the settings page's words for it, for
the per-label share cap and for the metadata fields the items have."""
import json
import re

import pytest

from labeling.modeling.models import ItemScore, ModelVersion
from labeling.modeling.versions import load_classifier
from labeling.projects.models import Membership

from . import test_loop_helpers as helpers
from .test_round40_knobs_settings import _coarse_project

eager_celery = helpers.eager_celery
pytestmark = pytest.mark.django_db


def _lead_client(project, make_user, client):
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    client.force_login(lead)
    return client


def _model_line(client, project) -> str:
    page = client.get(f"/p/{project.slug}/waves/").content.decode()
    found = re.search(r'id="model-choices">(.*?)</p>', page, re.S)
    assert found, "the waves page shows no Model line"
    return found.group(1)


def test_a_forced_coarse_to_fine_structure_serves_the_floor_the_lead_set(
        eager_celery, project_factory, make_user, client, django_capture_on_commit_callbacks):
    project, _ = _coarse_project(project_factory, "forced")
    client = _lead_client(project, make_user, client)
    reply = client.patch(f"/api/projects/{project.slug}/", {"hierarchy_mode": "hierarchical", "fine_floor": 0.95},
                         content_type="application/json")
    assert reply.status_code == 200, reply.content

    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert run.state == "done", run.message
    version = ModelVersion.objects.get(project=project, state=ModelVersion.ACTIVE)
    assert load_classifier(version).fine_floor == pytest.approx(0.95)
    # login and fraud are confused: under a 0.95 floor some scored items get the coarse label only
    assert ItemScore.objects.filter(model_version=version, fallback=True).exists()
    assert "fine-label floor 0.95 (setting)" in _model_line(client, project)
    caption = client.get(f"/api/projects/{project.slug}/dashboard/").json()["model"]["choices"]
    assert "fine-label floor 0.95 (setting)" in caption, caption


def test_under_auto_the_pages_name_the_floor_served_and_the_one_set(
        eager_celery, project_factory, make_user, client, django_capture_on_commit_callbacks):
    project, _ = _coarse_project(project_factory, "auto")
    client = _lead_client(project, make_user, client)
    settings_page = client.get(f"/p/{project.slug}/settings/").content.decode()
    assert "with Label hierarchy auto this floor is one candidate" in settings_page
    reply = client.patch(f"/api/projects/{project.slug}/", {"fine_floor": 0.95}, content_type="application/json")
    assert reply.status_code == 200, reply.content

    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert run.state == "done", run.message
    version = ModelVersion.objects.get(project=project, state=ModelVersion.ACTIVE)
    served = load_classifier(version).fine_floor
    line = _model_line(client, project)
    caption = client.get(f"/api/projects/{project.slug}/dashboard/").json()["model"]["choices"]
    expected = (f"fine-label floor {served:g} (set: 0.95;" if served != pytest.approx(0.95)
                else "fine-label floor 0.95 (the floor set")
    assert expected in line, line
    assert expected in caption, caption


def test_the_settings_page_quotes_each_field_name_the_items_have(project_factory, make_user, client, tmp_path):
    """A field name holding a comma reads as one name in the hint, not as two."""
    from labeling.items.services import import_path

    project = project_factory("metahint", labels=("billing", "login"), sources=("email",))
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"text": "hello", "source": "email", "city, state": "Austin, TX", "city": "x"}) + "\n")
    assert import_path(project, path).ok
    page = _lead_client(project, make_user, client).get(f"/p/{project.slug}/settings/").content.decode()
    assert "this project's items have: “city”, “city, state”" in page
    # the per-label cap is worded as the planner applies it
    assert "never below wave size ÷ the number of labels the model predicts" in page


def test_the_per_label_share_cap_holds_as_the_settings_page_now_words_it(
        eager_celery, project_factory, django_capture_on_commit_callbacks):
    """"at most 0.25 of the wave per predicted label, never below wave size ÷ the number of labels
    the model predicts; the random share is not capped": 40 picks over 3 labels, so at most 14
    strategy picks per predicted label (0.25 × 40 = 10 is below 40 ÷ 3)."""
    from collections import Counter

    from labeling.waves.models import Wave, WaveItem

    project, _ = helpers.build_project(project_factory, slug="cap", n_items=300, n_labeled=60, seed=4,
                                       wave_size=40, label_cap_share=0.25, strategy_mix={"rare": 0.9},
                                       random_share=0.1, double_label_share=0.0)
    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert run.state == "done", run.message
    wave = Wave.objects.filter(project=project).exclude(state=Wave.DISCARDED).order_by("-number").first()
    picks = Counter(WaveItem.objects.filter(wave=wave).exclude(strategy="random")
                    .values_list("predicted_label__name", flat=True))
    assert wave.size == 40 and len(picks) == 3, picks
    assert max(picks.values()) <= 14, picks
