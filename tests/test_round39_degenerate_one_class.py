"""A project whose answers all carry one label: a retrain run by the real worker cannot train, and
the run it leaves must say why (training needs a second label), not "too few labels" after dozens
of answers."""
import pytest
from rest_framework.test import APIClient

from tests.service_processes import fresh_broker, require_postgres, require_redis, start_worker, stop, wait_for_run
from tests.test_loop_helpers import build_project

pytestmark = pytest.mark.django_db(transaction=True)


def test_one_class_retrain_says_a_second_label_is_needed(project_factory, make_user, tmp_path):
    require_postgres()
    require_redis()
    fresh_broker()
    from labeling.modeling.models import ModelVersion, TaskRun

    # 30 answered items, every one "billing"; "login" has none yet.
    project, _ = build_project(project_factory, slug="oneclass", n_items=60, n_labeled=30,
                               labels=("billing", "login"), shares=(1.0, 0.0), wave_size=20, batch_size=1)
    assert set(project.labels.values_list("name", flat=True)) == {"billing", "login"}
    lead = make_user("lead", superuser=True)
    api = APIClient()
    api.force_authenticate(lead)
    log = tmp_path / "worker.log"
    worker = start_worker(log)
    try:
        answer = api.post(f"/api/projects/{project.slug}/models/retrain/")
        assert answer.status_code == 202, answer.content
        run = wait_for_run(TaskRun.objects.get(pk=answer.json()["id"]), [worker], [log], timeout=120)
    finally:
        stop(worker)
    assert run.state == TaskRun.DONE, run.message
    assert not ModelVersion.objects.filter(project=project).exists()
    message = run.message
    # What the lead reads under Background tasks (and GET tasks/): 30 labels is not "too few";
    # the reason is that every answer has the same label.
    assert "too few labels" not in message, message
    assert "two labels" in message or "second label" in message or "1 label" in message, message
