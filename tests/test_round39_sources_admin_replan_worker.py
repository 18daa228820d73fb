"""The same as test_round39_sources_admin_replan, with a real Celery worker (solo pool) and the
real broker: the sources API's quota change re-plans the waiting wave in the worker within seconds;
the same change saved on the Django admin's project page never does."""
import time

import pytest
from rest_framework.test import APIClient

from tests.service_processes import fresh_broker, require_postgres, require_redis, start_worker, stop
from tests.test_admin_label_rows import _change_form
from tests.test_annotation_helpers import add_member
from tests.test_loop_helpers import build_project

pytestmark = pytest.mark.worker


def _waiting(project):
    from labeling.waves.models import Wave

    return Wave.objects.filter(project=project, state=Wave.PLANNED).order_by("-number").first()


def _wait_for_waiting_number(project, number, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        wave = _waiting(project)
        if wave is not None and wave.number == number:
            return wave
        time.sleep(0.3)
    return _waiting(project)


def test_a_worker_replans_the_waiting_wave_after_an_admin_quota_change(transactional_db, project_factory, make_user,
                                                                         admin_client, tmp_path):
    require_postgres()
    require_redis()
    fresh_broker()
    from labeling.projects.models import Membership
    from labeling.waves import services as waves
    from labeling.waves.selectors import wave_composition

    project, _ = build_project(project_factory, slug="wquotas", n_items=240, n_labeled=0, double_label_share=0.0,
                               wave_size=20, batch_size=5)
    waves.open_wave(waves.plan_next_wave(project))
    assert waves.plan_next_wave(project).number == 2
    lead = add_member(make_user, project, "lead", role=Membership.LEAD)
    api = APIClient()
    api.force_authenticate(lead)
    log = tmp_path / "worker.log"
    worker = start_worker(log)
    try:
        # The sources API: the worker re-plans wave 2 as wave 3 under email 0.7 / chat 0.3.
        rows = [{"id": s.pk, "name": s.name, "quota": 0.7 if s.name == "email" else 0.3} for s in project.sources.all()]
        assert api.put("/api/projects/wquotas/sources/", rows, format="json").status_code == 200
        wave = _wait_for_waiting_number(project, 3, 60)
        assert wave.number == 3, log.read_text()[-3000:]
        assert wave_composition(wave)["by_source"] == {"email": 14, "chat": 6}

        # The admin's project page: email 1.0 / chat 0.0.
        data = _change_form(admin_client, project)
        for key, value in list(data.items()):
            if key.startswith("sources-") and key.endswith("-id") and value:
                name = project.sources.get(pk=int(value)).name
                data[key[: -len("-id")] + "-quota"] = "1.0" if name == "email" else "0.0"
        assert admin_client.post(f"/admin/projects/project/{project.pk}/change/", data).status_code == 302
        assert dict(project.sources.values_list("name", "quota")) == {"email": 1.0, "chat": 0.0}
        wave = _wait_for_waiting_number(project, 4, 20)
    finally:
        stop(worker)
    assert wave.number == 4, (f"20 s after the admin save the waiting wave is still wave {wave.number} with "
                              f"{wave_composition(wave)['by_source']} (planned under "
                              f"{wave.report['planned_under']['source_quotas']})")
    assert wave_composition(wave)["by_source"] == {"email": 20}
