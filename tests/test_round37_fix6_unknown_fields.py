"""The loop's actions over the API refuse a field they do not take, as every other write does
(README, API): 400 naming it, and nothing done. Before, the key was dropped and the action ran as
if unsent: a close with {"retrian": true} closed without retraining, waves/plan/ with {"sise": 3}
planned a wave of the project's size, an upload with the command's spelling skip-invalid ran
all-or-nothing. An empty body still runs the action."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from labeling.items.models import ImportBatch, Item
from labeling.modeling.models import TaskRun
from labeling.projects.models import Membership
from labeling.waves.models import Wave
from learner.text import text_hash

pytestmark = pytest.mark.django_db

TEXTS = ["refund my order", "cannot sign in", "card stolen", "invoice wrong"]


@pytest.fixture
def lead_api(make_user, project_factory, postgres_only):
    project = project_factory("alpha")
    project.wave_size, project.batch_size = 12, 4
    project.save()
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    api = APIClient()
    api.force_authenticate(lead)
    return api, project


def unknown(answer, field):
    assert answer.status_code == 400, (answer.status_code, answer.content)
    message = " ".join(answer.json()[field])
    assert f"Unknown field “{field}”" in message, message
    return message


def test_close_refuses_a_misspelt_retrain_and_stays_open(lead_api):
    api, project = lead_api
    Wave.objects.create(project=project, number=1, state=Wave.OPEN, size=0, cold_start=True)
    message = unknown(api.post("/api/projects/alpha/waves/1/close/", {"retrian": True}, format="json"), "retrian")
    assert "this request takes: retrain." in message
    assert Wave.objects.get(project=project, number=1).state == Wave.OPEN
    assert not TaskRun.objects.filter(project=project).exists()
    closed = api.post("/api/projects/alpha/waves/1/close/", {}, format="json")
    assert closed.status_code == 200 and closed.json()["state"] == "closed", closed.content


def test_close_with_no_body_still_closes(lead_api):
    api, project = lead_api
    Wave.objects.create(project=project, number=1, state=Wave.OPEN, size=0, cold_start=True)
    closed = api.post("/api/projects/alpha/waves/1/close/")
    assert closed.status_code == 200 and closed.json()["state"] == "closed", closed.content


def test_open_refuses_any_field_and_leaves_the_wave_planned(lead_api):
    api, project = lead_api
    Wave.objects.create(project=project, number=1, state=Wave.PLANNED, size=0, cold_start=True)
    message = unknown(api.post("/api/projects/alpha/waves/1/open/", {"bogus": 1}, format="json"), "bogus")
    assert "this request takes no fields" in message
    assert Wave.objects.get(project=project, number=1).state == Wave.PLANNED
    opened = api.post("/api/projects/alpha/waves/1/open/")
    assert opened.status_code == 200 and opened.json()["state"] == "open", opened.content


def test_plan_refuses_a_size_and_plans_nothing_then_plans_with_an_empty_body(lead_api):
    from labeling.modeling.embedding import embed_project

    api, project = lead_api
    sources = list(project.sources.all())
    for i in range(24):
        text = f"{TEXTS[i % 4]} number {i} case"
        Item.objects.create(project=project, source=sources[i % 2], text=text, text_hash=text_hash(text))
    embed_project(project)
    unknown(api.post("/api/projects/alpha/waves/plan/", {"sise": 3}, format="json"), "sise")
    # a form body is refused the same way
    unknown(api.post("/api/projects/alpha/waves/plan/", {"sise": "3"}), "sise")
    assert not Wave.objects.filter(project=project).exists()
    planned = api.post("/api/projects/alpha/waves/plan/", {}, format="json")
    assert planned.status_code == 201 and planned.json()["state"] == "open", planned.content


def test_retrain_refuses_any_field_and_starts_nothing(lead_api):
    api, project = lead_api
    # A final model under way: a retrain then waits for it (created, nothing queued), so the
    # request's own answer shows whether the retrain was started.
    TaskRun.objects.create(project=project, kind="final_model", state=TaskRun.RUNNING, message="Fine-tuning.")
    unknown(api.post("/api/projects/alpha/models/retrain/", {"bogus": 1}, format="json"), "bogus")
    assert not TaskRun.objects.filter(project=project, kind="retrain").exists()
    started = api.post("/api/projects/alpha/models/retrain/")
    assert started.status_code == 202 and started.json()["kind"] == "retrain", started.content
    assert TaskRun.objects.filter(project=project, kind="retrain").count() == 1


def test_final_model_refuses_any_field(lead_api):
    api, project = lead_api
    running = TaskRun.objects.create(project=project, kind="final_model", state=TaskRun.RUNNING, message="Fine-tuning.")
    unknown(api.post("/api/projects/alpha/models/final/", {"epochs": 3}, format="json"), "epochs")
    # An empty body reaches the action: the final model under way is the answer.
    answer = api.post("/api/projects/alpha/models/final/", {}, format="json")
    assert answer.status_code == 202 and answer.json()["id"] == running.pk, answer.content


def test_upload_refuses_the_commands_spelling_and_records_no_import(lead_api):
    api, project = lead_api

    def csv():
        return SimpleUploadedFile("t.csv", b"text,source\nmy card was stolen,email\n", content_type="text/csv")

    message = unknown(api.post("/api/projects/alpha/imports/", {"file": csv(), "skip-invalid": "true"},
                               format="multipart"), "skip-invalid")
    assert "this request takes: file, skip_invalid." in message
    assert not ImportBatch.objects.filter(project=project).exists()
    accepted = api.post("/api/projects/alpha/imports/", {"file": csv(), "skip_invalid": "true"}, format="multipart")
    assert accepted.status_code == 202, accepted.content
    assert ImportBatch.objects.filter(project=project).count() == 1
