"""A lead's rules and the waves they shape: the waiting cold-start plan follows a rule change made on
the rules page (the per-rule enable/disable form) or through the API, a model's waiting plan does not
(no strategy of it reads the rules), a plan recorded before plans recorded their rules is kept, the
planner matches rules only on the rows a draw may take, and deleting a label names the rules that went
with it in the API's answer."""
import pytest

from labeling.projects.models import Membership, Rule
from labeling.waves import pool
from labeling.waves.models import Wave, WaveItem

from .test_annotation_helpers import add_member, api_as
from .test_browse_pages import client_for
from .test_loop_helpers import build_project, eager_celery, retrain  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def _plan(api, slug):
    reply = api.post(f"/api/projects/{slug}/waves/plan/", format="json")
    assert reply.status_code == 201, reply.content
    return reply.json()


def _waiting(project):
    return Wave.objects.filter(project=project, state=Wave.PLANNED).order_by("-number").first()


def _rule_reasons(wave):
    return list(WaveItem.objects.filter(wave=wave, strategy="rules").values_list("reason", flat=True))


def _messages(reply):
    return " ".join(str(m) for m in reply.context["messages"])


@pytest.fixture
def cold(project_factory, make_user, eager_celery):  # noqa: F811 - the fixture imported above
    project, _ = build_project(project_factory, slug="wcold", n_items=200, n_labeled=0, shares=(0.5, 0.3, 0.2),
                               wave_size=30, double_label_share=0.0)
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    return project, lead


def test_the_rules_page_toggle_disables_and_enables_a_rule_and_replans_the_waiting_wave(
        cold, django_capture_on_commit_callbacks):
    project, lead = cold
    api, page = api_as(lead), client_for(lead)
    fraud = project.labels.get(name="fraud")
    rule_id = api.post("/api/projects/wcold/rules/", {"label": fraud.pk, "kind": "keyword", "pattern": "fraud"},
                       format="json").json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        _plan(api, "wcold")
        _plan(api, "wcold")
    assert _waiting(project).number == 2 and _rule_reasons(_waiting(project))

    html = page.get("/p/wcold/settings/rules/").content.decode()
    assert f'action="/p/wcold/settings/rules/{rule_id}/enabled/"' in html and ">Disable</button>" in html

    with django_capture_on_commit_callbacks(execute=True):
        reply = page.post(f"/p/wcold/settings/rules/{rule_id}/enabled/", {"enabled": "0"}, follow=True)
    assert reply.status_code == 200
    assert Rule.objects.get(pk=rule_id).enabled is False
    said = _messages(reply)
    assert "disabled" in said and "Planned wave 2" in said and "afresh" in said, said
    waiting = _waiting(project)
    assert waiting.number == 3 and not _rule_reasons(waiting)  # planned afresh without the rule
    gone = Wave.objects.get(project=project, number=2)
    assert gone.state == Wave.DISCARDED and "rules" in gone.report["discarded"]["reason"]
    assert ">Enable</button>" in page.get("/p/wcold/settings/rules/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        reply = page.post(f"/p/wcold/settings/rules/{rule_id}/enabled/", {"enabled": "1"}, follow=True)
    assert Rule.objects.get(pk=rule_id).enabled is True
    waiting = _waiting(project)
    assert waiting.number == 4 and any("a rule of label fraud" in r for r in _rule_reasons(waiting))

    reply = page.post(f"/p/wcold/settings/rules/{rule_id}/enabled/", {"enabled": "maybe"}, follow=True)
    assert "Nothing was changed" in _messages(reply)
    assert Rule.objects.get(pk=rule_id).enabled is True and _waiting(project).number == 4


def test_the_api_says_the_waiting_wave_is_replanned_and_a_label_delete_names_its_rules(
        cold, django_capture_on_commit_callbacks):
    project, lead = cold
    api = api_as(lead)
    fraud, login = project.labels.get(name="fraud"), project.labels.get(name="login")
    rule_id = api.post("/api/projects/wcold/rules/", {"label": fraud.pk, "kind": "keyword", "pattern": "fraud"},
                       format="json").json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        _plan(api, "wcold")
        _plan(api, "wcold")
    with django_capture_on_commit_callbacks(execute=True):
        reply = api.patch(f"/api/projects/wcold/rules/{rule_id}/", {"label": login.pk, "pattern": "login"},
                          format="json")
    assert reply.status_code == 200, reply.content
    assert "Planned wave 2" in reply.json()["waiting_wave"], reply.json()
    reasons = _rule_reasons(_waiting(project))
    assert reasons and all("label login" in r for r in reasons), reasons[:3]

    api.post("/api/projects/wcold/rules/", {"label": fraud.pk, "kind": "regex", "pattern": r"card (was )?stolen"},
             format="json")
    with django_capture_on_commit_callbacks(execute=True):
        reply = api.delete(f"/api/projects/wcold/labels/{fraud.pk}/")
    assert reply.status_code == 200, reply.content
    body = reply.json()
    assert body["rules_deleted"] == ["regex “card (was )?stolen”"], body
    assert "fraud" in body["detail"] and "1 rule:" in body["detail"], body
    assert not Rule.objects.filter(label_id=fraud.pk).exists()
    # a label without rules is deleted as before: 204, no body
    assert api.delete(f"/api/projects/wcold/labels/{project.labels.get(name='billing').pk}/").status_code == 204


def test_a_rule_change_leaves_a_plan_made_before_plans_recorded_rules(cold, django_capture_on_commit_callbacks):
    project, lead = cold
    api = api_as(lead)
    with django_capture_on_commit_callbacks(execute=True):
        _plan(api, "wcold")
        _plan(api, "wcold")
    waiting = _waiting(project)
    report = dict(waiting.report)
    report["planned_under"] = {k: v for k, v in report["planned_under"].items() if k != "rules"}
    Wave.objects.filter(pk=waiting.pk).update(report=report)  # as a plan stored before this release
    fraud = project.labels.get(name="fraud")
    with django_capture_on_commit_callbacks(execute=True):
        reply = api.post("/api/projects/wcold/rules/", {"label": fraud.pk, "kind": "keyword", "pattern": "fraud"},
                         format="json")
    assert reply.status_code == 201 and "waiting_wave" not in reply.json(), reply.json()
    assert _waiting(project).pk == waiting.pk


def test_a_models_waiting_plan_is_not_replanned_for_a_rule(project_factory, make_user, eager_celery,  # noqa: F811
                                                           django_capture_on_commit_callbacks):
    project, _ = build_project(project_factory, slug="wmodel", n_items=240, n_labeled=60, wave_size=30,
                               double_label_share=0.0)
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    api = api_as(lead)
    retrain(project, django_capture_on_commit_callbacks)  # wave 1 opens with the model
    with django_capture_on_commit_callbacks(execute=True):
        assert _plan(api, "wmodel")["state"] == "planned"
    waiting = _waiting(project)
    assert waiting.model_version_id is not None
    fraud = project.labels.get(name="fraud")
    with django_capture_on_commit_callbacks(execute=True):
        reply = api.post("/api/projects/wmodel/rules/", {"label": fraud.pk, "kind": "keyword", "pattern": "fraud"},
                         format="json")
    assert reply.status_code == 201 and "waiting_wave" not in reply.json(), reply.json()
    assert _waiting(project).pk == waiting.pk  # no strategy of a model's plan reads the rules


def test_the_cold_start_snapshot_matches_rules_only_on_rows_a_draw_may_take(project_factory, make_user):
    project, truth = build_project(project_factory, slug="wrows", n_items=120, n_labeled=30)
    fraud = project.labels.get(name="fraud")
    Rule.objects.create(project=project, label=fraud, kind="keyword", pattern="fraud")
    snapshot = pool.planner_snapshot(project, None, {})
    index = snapshot.label_names.index("fraud")
    matched = {int(snapshot.item_ids[r]) for r in snapshot.rule_rows[index]}
    labeled = set(project.annotations.values_list("item_id", flat=True))
    expected = {item_id for item_id, name in truth.items() if name == "fraud"} - labeled
    assert labeled & {i for i, name in truth.items() if name == "fraud"}  # some fraud items are labeled
    assert matched == expected
