"""The label budget reads the same on the pages as in the planner. The overview used to say
"199 of 225 used, 26 left" while planning answered 409 "the budget of 225 is spent": 28 answers were
still owed to the open wave, which the planner subtracts and the page did not. budget_status now
says what is used, what is committed to unfinished waves and what is free to plan, and the planner
plans with that free figure."""
import uuid

import pytest
from django.test import Client

from labeling.annotations.models import Annotation
from labeling.projects.models import Membership, Project
from labeling.waves import budget, selectors, services

from . import test_loop_helpers as helpers

pytestmark = pytest.mark.django_db


def _project(project_factory, label_budget):
    project, _ = helpers.build_project(project_factory, slug="budget36", n_items=60, n_labeled=0)
    Project.objects.filter(pk=project.pk).update(wave_size=10, batch_size=5, label_budget=label_budget,
                                                 double_label_share=0.0)
    return Project.objects.get(pk=project.pk)


def _answer(project, wave, user, n):
    """An annotator's answers to the first ``n`` picks of the wave (no signal: nothing retrains)."""
    label = project.labels.first()
    for pick in wave.picks.order_by("pk")[:n]:
        Annotation.objects.create(project=project, item=pick.item, label=label, annotator=user,
                                  client_id=uuid.uuid4())


def test_budget_status_splits_used_committed_and_free_as_the_planner_plans(project_factory, make_user):
    project = _project(project_factory, label_budget=12)
    user = make_user("ann36")
    wave = services.open_wave(services.plan_next_wave(project))
    assert wave.size == 10
    _answer(project, wave, user, 3)
    status = selectors.budget_status(project)
    # 3 answers given, 7 still owed to the open wave, 2 that a new wave may ask
    assert status["used"] == 3 and status["committed"] == 7 and status["free"] == 2
    assert status["left"] == 9 and status["spent"] is False
    assert budget.answers_left(project) == status["free"]
    # a wave planned now asks exactly what the page calls free, and then nothing is free
    assert services.plan_next_wave(project).size == 2
    status = selectors.budget_status(project)
    assert (status["used"], status["committed"], status["free"], status["spent"]) == (3, 9, 0, True)


def test_a_budget_committed_to_the_open_wave_reads_spent_on_the_overview(project_factory, make_user):
    project = _project(project_factory, label_budget=10)
    user = make_user("ann36")
    lead = make_user("lead36")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    wave = services.open_wave(services.plan_next_wave(project))
    _answer(project, wave, user, 4)
    status = selectors.budget_status(project)
    assert (status["used"], status["committed"], status["free"]) == (4, 6, 0)
    assert status["spent"] is True, "the planner refuses: the page must not say there is budget left"
    with pytest.raises(budget.BudgetSpent, match="the rest is committed to unfinished waves"):
        budget.answers_left(project)
    client = Client()
    client.force_login(lead)
    body = client.get(f"/p/{project.slug}/").content.decode()
    line = body[body.index('id="overview-budget"'):][:400]
    assert "4 of 10 used, 6 committed to unfinished waves, 0 free to plan" in line, line
    assert "6 left" not in body
    assert "no new wave can be planned" in line
    # The waves page says it as the overview does, not "spent" (nothing is spent: 6 answers are owed).
    waves = client.get(f"/p/{project.slug}/waves/").content.decode()
    budget_line = waves[waves.index("Label budget:"):][:400]
    assert "no new wave can be planned" in budget_line and "spent" not in budget_line, budget_line


def test_no_budget_has_nothing_committed_or_free(project_factory):
    project = _project(project_factory, label_budget=None)
    status = selectors.budget_status(project)
    assert status == {"budget": None, "used": 0, "committed": None, "free": None, "left": None, "spent": False}
