"""Planning waves by hand while others plan, and what a retrain does with waves planned before it.

* Three leads' "Plan next wave" at once (threads with their own PostgreSQL connections, released
  together by a barrier) while wave 1 is open: one wave of the full size is planned, the others
  hear which wave is already planned (409), never a wave cut short by the other requests.
* Closing wave 1 with "then retrain" while wave 2 waits, planned with the model before the retrain
  (or as a cold start): the retrain's wave is planned with the new model; wave 2 is discarded (its
  picks deleted, so no estimate counts them as drawn; an item a lead pinned for it is pinned again).
* The discarded wave is in the waves list (API and page) with its model and why; it can be neither
  opened nor closed, and a planned wave that a lead closes before it opened is discarded too.
"""
import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from labeling.items.models import Item
from labeling.modeling.models import TaskRun
from labeling.modeling.versions import active_model
from labeling.projects.estimates import version_estimates
from labeling.projects.models import Membership
from labeling.waves import services as waves
from labeling.waves.models import Wave, WaveItem

from .test_annotation_helpers import add_member
from .test_loop_helpers import build_project, eager_celery, retrain  # noqa: F401


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def _lead_project(project_factory, make_user, **fields):
    project, _ = build_project(project_factory, slug="p2", n_items=240, double_label_share=0.0, wave_size=20,
                               batch_size=5, **fields)
    return project, add_member(make_user, project, "lead", role=Membership.LEAD)


@pytest.mark.django_db(transaction=True)
def test_concurrent_hand_plans_make_one_full_wave_and_tell_the_others(postgres_only, project_factory, make_user,
                                                                      eager_celery):  # noqa: F811
    project, lead = _lead_project(project_factory, make_user, n_labeled=0)
    waves.open_wave(waves.plan_next_wave(project))  # wave 1, open
    barrier = threading.Barrier(3)
    outcomes = [None] * 3

    def plan(k):
        try:
            api = api_as(lead)
            barrier.wait(10)
            response = api.post("/api/projects/p2/waves/plan/")
            outcomes[k] = (response.status_code, response.json())
        finally:
            connection.close()

    threads = [threading.Thread(target=plan, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(o is not None for o in outcomes), outcomes
    codes = sorted(code for code, _ in outcomes)
    assert codes == [201, 409, 409], outcomes
    made = next(body for code, body in outcomes if code == 201)
    assert made["number"] == 2 and made["state"] == "planned" and made["size"] == 20
    for code, body in outcomes:
        if code == 409:  # the loser hears which wave, and what to do
            assert body["detail"].startswith("Wave 2 is already planned (20 items, a cold start"), body
            assert "opens when wave 1 is closed" in body["detail"] and "close wave 2 first" in body["detail"]
    # Never an undersized wave: one planned wave of the project's size, picks disjoint from wave 1's.
    planned = list(Wave.objects.filter(project=project).exclude(number=1))
    assert [(w.number, w.state, w.size) for w in planned] == [(2, Wave.PLANNED, 20)]
    assert WaveItem.objects.filter(wave=planned[0]).count() == 20
    assert "short_of_requested" not in planned[0].report and "dropped_since_snapshot" not in planned[0].report
    one = set(WaveItem.objects.filter(wave__number=1, wave__project=project).values_list("item_id", flat=True))
    assert not one & set(WaveItem.objects.filter(wave=planned[0]).values_list("item_id", flat=True))

    # A lead who plans again on purpose gets the same clear answer; nothing is written.
    again = api_as(lead).post("/api/projects/p2/waves/plan/")
    assert again.status_code == 409 and again.json()["detail"].startswith("Wave 2 is already planned")
    assert Wave.objects.filter(project=project).count() == 2


@pytest.mark.django_db
def test_a_short_wave_says_the_pool_ran_out(project_factory, make_user, eager_celery):  # noqa: F811
    project, lead = _lead_project(project_factory, make_user, n_labeled=0)
    Item.objects.filter(project=project).exclude(pk__in=list(Item.objects.filter(project=project)
                                                              .order_by("id").values_list("id", flat=True)[:12])
                                                 ).update(excluded=True)
    wave = waves.plan_next_wave(project)
    assert wave.size < 20
    assert wave.report["short_of_requested"].startswith(f"{wave.size} of the 20 items asked for: the pool ran out")


@pytest.mark.django_db
def test_close_with_retrain_opens_a_wave_of_the_new_model_not_the_one_planned_before(
        project_factory, make_user, eager_celery, django_capture_on_commit_callbacks):  # noqa: F811
    project, lead = _lead_project(project_factory, make_user, n_labeled=60)
    assert retrain(project, django_capture_on_commit_callbacks).state == TaskRun.DONE
    v1 = active_model(project)
    api = api_as(lead)
    first = Wave.objects.get(project=project, number=1)  # the retrain's last step opened it, with v1
    assert first.state == Wave.OPEN and first.model_version_id == v1.pk
    pinned = Item.objects.filter(project=project, annotations__isnull=True).exclude(
        wave_picks__wave__number=1).order_by("-id").first()
    Item.objects.filter(pk=pinned.pk).update(pinned_for_next_wave=True)  # a lead pins it for the next wave
    ahead = api.post("/api/projects/p2/waves/plan/").json()  # wave 2, planned ahead with v1
    assert ahead["number"] == 2 and ahead["state"] == "planned" and ahead["model_version"] == v1.number
    ahead_items = set(WaveItem.objects.filter(wave__project=project, wave__number=2).values_list("item_id", flat=True))
    assert pinned.pk in ahead_items

    with django_capture_on_commit_callbacks(execute=True):
        closed = api.post("/api/projects/p2/waves/1/close/", {"retrain": True}, format="json")
    assert closed.status_code == 200, closed.json()
    run = TaskRun.objects.get(pk=closed.json()["retrain"]["id"])
    assert run.state == TaskRun.DONE, run.message
    v2 = active_model(project)
    assert v2.number == v1.number + 1
    opened = Wave.objects.get(project=project, state=Wave.OPEN)
    # the retrain's wave is the new model's, not the one planned before it
    assert opened.model_version_id == v2.pk and not opened.cold_start and opened.number == 3, (
        opened.number, opened.model_version_id)
    assert f"wave 3 opened ({opened.size} items)" in run.message and opened.size == 20
    assert opened.report["replaces"] == [{"wave": 2, "model": f"model v{v1.number}", "size": 20}]
    stale = Wave.objects.get(project=project, number=2)
    assert stale.state == Wave.DISCARDED and stale.size == 20 and stale.model_version_id == v1.pk
    assert stale.report["discarded"]["items"] == sorted(ahead_items)
    assert f"planned with model v{v1.number}; model v{v2.number} is active now" in stale.report["discarded"]["reason"]
    # its picks are gone: no estimate counts them as drawn; the pinned item came back pinned
    assert not WaveItem.objects.filter(wave=stale).exists()
    assert WaveItem.objects.get(wave=opened, item=pinned).strategy == "pinned"
    drawn = version_estimates(project, [v1])[v1.number]["sample"]["drawn"]
    assert drawn == WaveItem.objects.filter(wave__project=project, wave__number__in=[1, 3],
                                            inclusion_prob__isnull=False).count()
    assert Wave.objects.filter(project=project, state=Wave.PLANNED).count() == 0


@pytest.mark.django_db
def test_a_cold_start_planned_ahead_is_not_opened_once_a_model_exists(
        project_factory, make_user, eager_celery, django_capture_on_commit_callbacks):  # noqa: F811
    project, lead = _lead_project(project_factory, make_user, n_labeled=60)
    api = api_as(lead)
    assert api.post("/api/projects/p2/waves/plan/").json()["cold_start"] is True  # wave 1, open
    assert api.post("/api/projects/p2/waves/plan/").json()["state"] == "planned"  # wave 2, cold start too
    with django_capture_on_commit_callbacks(execute=True):
        closed = api.post("/api/projects/p2/waves/1/close/", {"retrain": True}, format="json")
    assert closed.status_code == 200
    opened = Wave.objects.get(project=project, state=Wave.OPEN)
    assert not opened.cold_start and opened.model_version_id == active_model(project).pk and opened.number == 3
    assert Wave.objects.get(project=project, number=2).state == Wave.DISCARDED


@pytest.mark.django_db
def test_discarded_waves_are_shown_and_refuse_open_and_close(project_factory, make_user, eager_celery,  # noqa: F811
                                                             django_capture_on_commit_callbacks, client):
    project, lead = _lead_project(project_factory, make_user, n_labeled=60)
    api = api_as(lead)
    api.post("/api/projects/p2/waves/plan/")  # wave 1, open, cold start
    api.post("/api/projects/p2/waves/plan/")  # wave 2, planned, cold start
    # mid-wave: wave 1 stays open; the retrain replaces the cold-start plan with one of the active model
    retrain(project, django_capture_on_commit_callbacks)
    planned = Wave.objects.get(project=project, number=3)
    assert planned.state == Wave.PLANNED and planned.model_version_id == active_model(project).pk
    assert api.post("/api/projects/p2/waves/plan/").status_code == 409  # and it is the one planned wave

    listed = {w["number"]: w for w in api.get("/api/projects/p2/waves/").json()["results"]}
    assert listed[2]["state"] == "discarded" and listed[2]["model_version"] is None and listed[2]["size"] == 20
    assert listed[2]["progress"]["total"] == 0 and listed[3]["state"] == "planned"
    assert api.get("/api/projects/p2/waves/2/composition/").json()["rows"] == []
    refused = api.post("/api/projects/p2/waves/2/open/")
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith("Wave 2 was discarded before it opened (planned with a cold start; "
                                               "model v1 is active now")
    again = api.post("/api/projects/p2/waves/2/close/", {}, format="json")
    assert again.status_code == 409 and "Wave 2 was discarded before it opened" in again.json()["detail"]

    # A lead closes the planned wave 3 before it opened: it is discarded, not closed.
    closed = api.post("/api/projects/p2/waves/3/close/", {}, format="json")
    assert closed.status_code == 200 and closed.json()["state"] == "discarded"
    assert Wave.objects.get(project=project, number=3).report["discarded"]["reason"] == \
        "closed by a lead before it opened"
    assert not WaveItem.objects.filter(wave__number__in=[2, 3], wave__project=project).exists()

    client.force_login(lead)
    page = client.get("/p/p2/waves/").content.decode()
    assert "<td>2</td><td>discarded</td><td>20</td><td>cold start</td>" in page
    assert "<td>3</td><td>discarded</td><td>20</td><td>v1</td>" in page


def test_the_overview_counts_waves_without_the_discarded_plans(project_factory, make_user):
    from django.test import Client

    from labeling.waves.services import close_wave, plan_next_wave

    project, lead = _lead_project(project_factory, make_user, n_labeled=0)
    close_wave(plan_next_wave(project))  # planned, never opened: discarded
    plan_next_wave(project)
    assert Wave.objects.filter(project=project).count() == 2
    client = Client()
    client.force_login(lead)
    page = client.get(f"/p/{project.slug}/").content.decode()
    assert "· 1 wave ·" in page, page[page.find("items in the pool"):][:120]
