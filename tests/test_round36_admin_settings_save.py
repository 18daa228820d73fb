"""A save of a project's settings in the admin (the Project change form) does what the settings
page's save does once it commits (labeling.projects.services.update_settings): a changed band or
review share routes the review queue again with the active model, and a change that shapes waves
re-plans the wave waiting to be opened. Before, the admin only wrote the row: the queue kept the old
band's tasks beyond the new cap and the waiting wave stayed the old settings' plan until the loop
next opened a wave.

Wave 1 is open (the first retrain opened it, with v1) and a lead planned wave 2 ahead with v1
(tests.test_waves_round32_replan's fixture; eager Celery, the real planner and router).
"""
import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError

from labeling.annotations.models import ReviewTask
from labeling.items.models import Item
from labeling.modeling.models import ModelVersion
from labeling.modeling.review import waiting_items
from labeling.projects import admin as project_admin
from labeling.projects.models import Project
from labeling.waves.models import Wave

from .test_loop_helpers import eager_celery  # noqa: F401
from .test_settings_pages_stale_edits import open_page
from .test_waves_round32_replan import assert_wave_1_untouched, planned_ahead  # noqa: F401

pytestmark = pytest.mark.django_db


def _routing(version) -> dict:
    """What the review routing of the active model last reported (route_review stores it)."""
    return ModelVersion.objects.get(pk=version.pk).metrics.get("review_routing", {})


def _admin_save(admin_client, project, capture, **changes):
    url = f"/admin/projects/project/{project.pk}/change/"
    page = open_page(admin_client, url, "project_form")
    page.update({field: [value] for field, value in changes.items()})
    with capture(execute=True):  # what the save asks for once it commits runs (eager Celery)
        response = admin_client.post(url, page)
    assert response.status_code == 302, response.content.decode()[-3000:]


def test_an_admin_save_of_the_band_and_review_share_reroutes_and_replans(planned_ahead, admin_client,  # noqa: F811
                                                                        django_capture_on_commit_callbacks):
    project, lead, v1, wave1_picks = planned_ahead
    # An open low-confidence task on a pool item (unlabeled, in no wave), as a routing under other
    # settings left it: the next routing judges it again under the band as saved.
    pool_item = Item.objects.filter(project=project).exclude(pk__in=waiting_items(project)).exclude(
        annotations__isnull=False).order_by("pk").first()
    task = ReviewTask.objects.create(project=project, item=pool_item, reason=ReviewTask.LOW_CONFIDENCE,
                                     model_version=v1.number, detail={})
    assert _routing(v1)["max_share"] == 0.1

    # A save that changes nothing routing or planning reads leaves both as they are.
    _admin_save(admin_client, project, django_capture_on_commit_callbacks, description="Support tickets.")
    assert Project.objects.get(pk=project.pk).description == "Support tickets."
    assert Wave.objects.get(project=project, number=2).state == Wave.PLANNED
    task.refresh_from_db()
    assert task.resolved_at is None and _routing(v1)["max_share"] == 0.1

    # The band and the review share, as a lead changes them on the settings page:
    _admin_save(admin_client, project, django_capture_on_commit_callbacks,
                band_low="0.01", band_high="0.999", review_share_max="0.5")
    stored = Project.objects.get(pk=project.pk)
    assert (stored.band_low, stored.band_high, stored.review_share_max) == (0.01, 0.999, 0.5)
    # the queue is routed again under them (the task judged under the new band, the new share's cap)...
    task.refresh_from_db()
    assert task.resolved_at is not None and "under the band 0.01–1.00" in task.detail["closed"], task.detail
    assert _routing(v1)["max_share"] == 0.5
    # ...and the waiting plan, made under the old band, is discarded and planned afresh under the new one.
    discarded = Wave.objects.get(project=project, number=2)
    assert discarded.state == Wave.DISCARDED and "band_low" in discarded.report["discarded"]["reason"]
    fresh = Wave.objects.get(project=project, number=3)
    assert (fresh.state, fresh.model_version_id) == (Wave.PLANNED, v1.pk)

    # The review share alone routes the queue again; it shapes no wave, so the plan waits as it is.
    _admin_save(admin_client, project, django_capture_on_commit_callbacks, review_share_max="0.2")
    assert _routing(v1)["max_share"] == 0.2
    assert Wave.objects.get(project=project, number=3).state == Wave.PLANNED
    assert not Wave.objects.filter(project=project, number=4).exists()
    assert_wave_1_untouched(project, wave1_picks)


def test_a_refused_admin_settings_save_says_why_and_saves_nothing(project_factory, admin_client, monkeypatch):
    """The settings service refusing the admin's save (it runs the checks the form ran, so only a
    failure injected here reaches it) ends the page's transaction with nothing saved and a message.
    Before, the save marked the transaction for rollback and went on to the related rows and the
    admin's log entry in it: a 500 (TransactionManagementError)."""
    project = project_factory("refused36")

    def refuse(stored, changes):
        raise ValidationError("refused for the test")

    monkeypatch.setattr(project_admin, "update_settings", refuse)
    url = f"/admin/projects/project/{project.pk}/change/"
    page = open_page(admin_client, url, "project_form")
    page["description"] = ["changed"]
    page["wave_size"] = ["123"]
    response = admin_client.post(url, page)
    assert response.status_code == 302 and response["Location"] == url
    assert "refused for the test" in " ".join(str(m) for m in get_messages(response.wsgi_request))
    project.refresh_from_db()
    assert project.description != "changed" and project.wave_size != 123
