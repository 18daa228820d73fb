"""An annotator who asks for work between two waves is told what opens the next one: the
completed wave's retrain (with its stage) that opens it by itself, an embedding a lead's plan
waits for, or a planned wave a lead must open; "a lead plans the next one" only when nothing will."""
import pytest
from rest_framework.test import APIClient

from labeling.annotations import leasing, waiting
from labeling.loop.runs import EMBED, RETRAIN, WAITING, update_run
from labeling.modeling.models import TaskRun
from labeling.waves.models import Wave

from .test_annotation_helpers import add_member, answer, make_open_wave


@pytest.fixture
def project(project_factory):
    p = project_factory("between", labels=("billing", "login", "fraud"))
    p.batch_size = 5
    p.save()
    return p


def batch_message(project, user) -> dict:
    client = APIClient()
    client.force_authenticate(user)
    data = client.post(f"/api/projects/{project.slug}/batches/", {}, format="json").json()
    assert data["items"] == []
    return data["waiting"]


def test_completed_wave_says_its_retrain_opens_the_next(project, make_user):
    wave, _items = make_open_wave(project, 2)
    ann = add_member(make_user, project, "ann")
    for assignment in leasing.lease_batch(project, ann).assignments:
        answer(project, ann, assignment, project.labels.get(name="login"))
    # The last answer completed the wave: it closed, and its retrain was requested (the loop's own reaction).
    assert Wave.objects.get(pk=wave.pk).state == Wave.CLOSED
    run = TaskRun.objects.get(project=project, kind=RETRAIN, state=TaskRun.PENDING)

    said = batch_message(project, ann)
    assert said["reason"] == "no_wave"
    assert "a retrain is under way (queued, 0%) and opens the next wave by itself when it finishes" in said["message"]
    assert "a lead plans the next one" not in said["message"]

    update_run(run.pk, state=TaskRun.RUNNING, progress=0.3, stage="train")
    assert "a retrain is under way (training, 30%)" in waiting.why_waiting(project, ann)["message"]
    update_run(run.pk, stage=WAITING)
    assert "a retrain waits for the final model to finish, then trains and opens the next wave" in (
        waiting.why_waiting(project, ann)["message"])

    update_run(run.pk, state=TaskRun.DONE, finished=True, stage="done")
    assert waiting.why_waiting(project, ann)["message"].endswith("No wave is open; a lead plans the next one.")


def test_an_embedding_a_plan_waits_for_and_a_planned_wave_are_named(project, make_user):
    make_open_wave(project, 2, state=Wave.CLOSED)
    ann = add_member(make_user, project, "ann")
    embedding = TaskRun.objects.create(project=project, kind=EMBED, state=TaskRun.RUNNING, progress=0.5,
                                       detail={"stage": "embed", "plan_when_done": True})
    assert ("new items are being embedded (50%); the next wave is planned and opened by itself when they are "
            "done") in batch_message(project, ann)["message"]
    update_run(embedding.pk, state=TaskRun.DONE, finished=True)
    Wave.objects.create(project=project, number=2, state=Wave.PLANNED, size=3)
    said = batch_message(project, ann)
    assert said["reason"] == "no_wave" and said["message"].endswith(
        "No wave is open; wave 2 is planned and waits for a lead to open it.")
