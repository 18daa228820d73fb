"""A retrain's closing message joins its notes: clauses with "; ", a note that is a sentence of its
own (a NothingToPlan message, which the plan API answers as it is) as a new sentence, with one full
stop at the end. After the label budget ran out the message read "Done: model v5 active; The label
budget of 5 is spent: 6 labels given.." (a capital after the semicolon, a doubled full stop)."""
import uuid

import pytest

from labeling.annotations.models import Annotation
from labeling.loop.pipeline import finish_retrain
from labeling.modeling.models import TaskRun
from labeling.projects.models import Project

from . import test_loop_helpers as helpers

pytestmark = pytest.mark.django_db


def test_the_retrain_message_after_the_budget_ran_out_reads_as_sentences(project_factory, make_user):
    project, _ = helpers.build_project(project_factory, slug="spent38", n_items=30, n_labeled=0)
    Project.objects.filter(pk=project.pk).update(label_budget=5)
    project.refresh_from_db()
    user, label = make_user("ann38"), project.labels.first()
    for item in project.items.order_by("pk")[:6]:
        Annotation.objects.create(project=project, item=item, label=label, annotator=user, client_id=uuid.uuid4())
    run = TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.RUNNING, detail={"model_version": 5})
    finish_retrain(run)
    run.refresh_from_db()
    assert run.state == TaskRun.DONE, run.message
    assert run.message == "Done: model v5 active. The label budget of 5 is spent: 6 labels given.", run.message


def test_notes_join_as_clauses_and_sentences():
    from labeling.loop.runs import join_notes

    assert join_notes(["model v5 active", "wave 6 opened (20 items)"]) == "model v5 active; wave 6 opened (20 items)."
    assert join_notes(["model v5 active", "Nothing to plan: the pool ran out. 3 items are leased."]) == (
        "model v5 active. Nothing to plan: the pool ran out. 3 items are leased.")
    # after a note that ends a sentence, the next one starts another
    assert join_notes(["The budget is spent.", "a wave is already open", ""]) == (
        "The budget is spent. A wave is already open.")
    assert join_notes([]) == ""
