"""Closing a wave by hand with "then retrain" runs the retrain pipeline, whose last step plans and
opens the next wave from the new model: not a cold start once labels exist. Closing without it
and planning at once is the cold start the option avoids. While a retrain is under way the plan
button (page and API) waits for it, and the waves page disables it."""
import pytest
from rest_framework.test import APIClient

from labeling.items.models import Item
from labeling.modeling.models import TaskRun
from labeling.projects.models import Membership
from labeling.waves.models import Wave
from learner.text import text_hash
from tests.test_predict import label_project

pytestmark = pytest.mark.django_db

UNLABELED = ["where is my parcel", "the app crashes on start", "change my delivery address", "how do I export data",
             "my password reset mail never came", "I was charged twice this month", "cancel my subscription",
             "the invoice shows the wrong VAT", "someone used my card abroad", "two factor code is not arriving",
             "can I get a paper invoice", "refund for the broken blender", "login page says error 500",
             "my account was locked after travel", "add a second user to my plan", "price went up without notice"]


@pytest.fixture
def labeled_wave(make_user, project_factory):
    project = project_factory("alpha")
    project.wave_size = 8
    project.batch_size = 4
    project.save()
    lead, annotator = make_user("lena"), make_user("ann")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    Membership.objects.create(user=annotator, project=project, role=Membership.ANNOTATOR)
    wave = label_project(project, annotator)  # wave 1, open, every item answered
    for text in UNLABELED:
        Item.objects.create(project=project, source=project.sources.first(), text=text, text_hash=text_hash(text))
    return {"project": project, "lead": lead, "wave": wave}


@pytest.fixture
def in_process_tasks(django_capture_on_commit_callbacks):
    """The pipeline in this process (the real worker path is tests/test_worker_loop.py): what is
    tested here is what the close action starts and what the pipeline's last step plans."""
    from config.celery import app
    from labeling.modeling.embedding_store import clear_memos

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield django_capture_on_commit_callbacks
    app.conf.task_always_eager = eager
    # The vectors this process memoised outlive a transactional test's flush of the Embedding
    # table; a later test would take them as stored and find no pool.
    clear_memos()


@pytest.mark.django_db(transaction=True)
def test_close_with_retrain_plans_a_wave_from_the_new_model(client, labeled_wave, in_process_tasks):
    """Committed transactions, as in a running app: the pipeline runs when the close commits,
    so the answer to the close already tells what it did."""
    project = labeled_wave["project"]
    client.force_login(labeled_wave["lead"])
    page = client.get("/p/alpha/waves/").content.decode()
    assert 'name="retrain" value="1" id="close-retrain" checked' in page
    body = client.post("/p/alpha/waves/close/", {"wave": "1", "retrain": "1"}, follow=True).content.decode()
    run = TaskRun.objects.get(project=project, kind="retrain")
    assert run.state == TaskRun.DONE and run.detail["reason"] == "wave_closed", run.message
    wave2 = Wave.objects.get(project=project, number=2)
    assert wave2.state == Wave.OPEN and not wave2.cold_start and wave2.model_version is not None
    assert wave2.model_version.train_size > 0 and 0 < wave2.size <= 8
    assert not wave2.report["cold_start"] and "rare" in wave2.report["strategy_mix"]
    assert f"Wave 1 closed. Retrain finished (task {run.pk}). Done: model v{wave2.model_version.number} active" in body
    assert f"wave 2 opened ({wave2.size} items)" in body
    status = client.get("/p/alpha/waves/status.json").json()
    assert status["tasks"][0]["stage"] == "done" and status["tasks"][0]["elapsed_s"] >= 0


def test_close_without_retrain_then_plan_is_a_cold_start(client, labeled_wave):
    client.force_login(labeled_wave["lead"])
    client.post("/p/alpha/waves/close/", {"wave": "1"})
    assert Wave.objects.get(project=labeled_wave["project"], number=1).state == Wave.CLOSED
    assert not TaskRun.objects.filter(kind="retrain").exists()
    client.post("/p/alpha/waves/plan/")
    assert Wave.objects.get(project=labeled_wave["project"], number=2).cold_start  # what the option avoids


def test_close_over_the_api_with_retrain(labeled_wave, in_process_tasks):
    api = APIClient()
    api.force_authenticate(labeled_wave["lead"])
    with in_process_tasks(execute=True):
        answer = api.post("/api/projects/alpha/waves/1/close/", {"retrain": True}, format="json")
    assert answer.status_code == 200 and answer.json()["state"] == "closed"
    assert answer.json()["retrain"]["kind"] == "retrain"
    wave2 = Wave.objects.get(project=labeled_wave["project"], number=2)
    assert not wave2.cold_start and wave2.state == Wave.OPEN
    bad = api.post("/api/projects/alpha/waves/2/close/", {"retrain": "perhaps"}, format="json")
    assert bad.status_code == 400 and "retrain" in bad.json()


def test_plan_waits_for_a_live_retrain(client, labeled_wave):
    project = labeled_wave["project"]
    Wave.objects.filter(pk=labeled_wave["wave"].pk).update(state=Wave.CLOSED)
    run = TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.RUNNING, progress=0.3,
                                 detail={"stage": "train"})
    client.force_login(labeled_wave["lead"])
    page = client.get("/p/alpha/waves/").content.decode()
    assert 'id="plan-wave" data-live-disable disabled' in page and 'id="retrain" data-live-disable disabled' in page
    assert "Retrain under way: training" in page
    body = client.post("/p/alpha/waves/plan/", follow=True).content.decode()
    assert f"A retrain is under way (task {run.pk}, training, 30%)" in body
    assert not Wave.objects.filter(project=project, number=2).exists()
    api = APIClient()
    api.force_authenticate(labeled_wave["lead"])
    answer = api.post("/api/projects/alpha/waves/plan/")
    assert answer.status_code == 409 and "retrain is under way" in answer.json()["detail"]
    TaskRun.objects.filter(pk=run.pk).update(state=TaskRun.DONE)
    planned = api.post("/api/projects/alpha/waves/plan/")
    assert planned.status_code == 201, planned.json()
