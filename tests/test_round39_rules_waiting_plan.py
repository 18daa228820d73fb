"""A lead's rules over a project's life: the waiting (planned, not yet opened) wave and the rules.

A lead may plan the next wave while one is open; it waits. A change to the settings that shape a
wave (settings page, sources and quotas) makes that waiting plan stale and it is planned afresh
(labeling.loop.replanning.request_replan, labeling.waves.discard). The project's rules shape a cold
start wave as much as the quotas do (the ``rules`` draw takes 0.3 of it), yet adding, editing,
disabling or deleting a rule leaves the waiting plan as it was: it opens later with picks drawn by a
rule the lead deleted (their reason naming it), and the page only says "Rule saved." / "Rule …
deleted." without a word about the waiting wave."""
import pytest

from labeling.projects.models import Membership, Rule
from labeling.waves.models import Wave, WaveItem

from .test_annotation_helpers import add_member, api_as
from .test_loop_helpers import build_project, eager_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def cold_project(project_factory, make_user, eager_celery):  # noqa: F811 - the fixture imported above
    project, _ = build_project(project_factory, slug="coldrules", n_items=240, n_labeled=0,
                               shares=(0.5, 0.3, 0.2), wave_size=30, double_label_share=0.0)
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    return project, api_as(lead)


def _plan(api, slug):
    reply = api.post(f"/api/projects/{slug}/waves/plan/", format="json")
    assert reply.status_code == 201, reply.content
    return reply.json()


def _rule_picks(wave):
    return list(WaveItem.objects.filter(wave=wave, strategy="rules").values_list("reason", flat=True))


def _waiting(project):
    return Wave.objects.filter(project=project, state=Wave.PLANNED).order_by("-number").first()


def test_deleting_a_rule_replans_the_waiting_wave(cold_project, django_capture_on_commit_callbacks):
    project, api = cold_project
    fraud = project.labels.get(name="fraud")
    reply = api.post("/api/projects/coldrules/rules/", {"label": fraud.pk, "kind": "keyword", "pattern": "fraud"},
                     format="json")
    assert reply.status_code == 201, reply.content
    rule_id = reply.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert _plan(api, "coldrules")["state"] == "open"      # wave 1, cold start, opened at once
        assert _plan(api, "coldrules")["state"] == "planned"   # wave 2 waits for wave 1 to be closed
    waiting = _waiting(project)
    assert any("a rule of label fraud" in reason for reason in _rule_picks(waiting))  # drawn by the rule

    # The lead finds the rule wrong and deletes it while wave 2 waits.
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/projects/coldrules/rules/{rule_id}/").status_code == 204
    assert not Rule.objects.filter(project=project).exists()

    waiting = _waiting(project)
    # today: wave 2 is still the plan drawn with the deleted rule, and it opens as it is
    assert not _rule_picks(waiting), (waiting.number, _rule_picks(waiting)[:3])


def test_moving_a_rule_to_another_label_replans_the_waiting_wave(cold_project, django_capture_on_commit_callbacks):
    project, api = cold_project
    fraud, login = project.labels.get(name="fraud"), project.labels.get(name="login")
    reply = api.post("/api/projects/coldrules/rules/", {"label": fraud.pk, "kind": "keyword", "pattern": "fraud"},
                     format="json")
    rule_id = reply.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        _plan(api, "coldrules")
        _plan(api, "coldrules")
    # The lead edits the rule: the pattern now looks for "login" items, for the label login.
    with django_capture_on_commit_callbacks(execute=True):
        reply = api.patch(f"/api/projects/coldrules/rules/{rule_id}/", {"label": login.pk, "pattern": "login"},
                          format="json")
    assert reply.status_code == 200, reply.content
    reasons = _rule_picks(_waiting(project))
    # today: every rule pick of the waiting wave is still "… a rule of label fraud matches …", a rule that
    # no longer exists, and none comes from the rule as it is now
    assert reasons and not any("label fraud" in reason for reason in reasons), reasons[:3]
