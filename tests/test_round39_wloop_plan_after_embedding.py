"""A "Plan next wave" asked while items embed is done when the embedding ends, as the plan request
does it: planned and opened with no wave open; planned to wait behind an open wave; and a second
ask, with a plan already waiting, says why nothing was planned. In-process (eager Celery) on
PostgreSQL; the run's own message is what the lead reads under Background tasks."""

from tests import test_loop_helpers as helpers

eager_celery = helpers.eager_celery


def _embed_then_plan(project):
    from labeling.loop.triggers import request_embedding

    run = request_embedding(project, plan_when_done=True)  # commits (transactional_db): runs on commit
    run.refresh_from_db()
    assert run.state == "done", run.message
    return run


def test_a_plan_asked_while_embedding_is_made_when_it_ends(transactional_db, project_factory, eager_celery):
    from labeling.waves.models import Wave

    project, _ = helpers.build_project(project_factory, slug="embedplan", n_items=60, n_labeled=20, wave_size=8,
                                       batch_size=4)
    run = _embed_then_plan(project)
    assert run.message == "Embedded 0 items. Wave 1 planned and opened (8 items).", run.message
    assert run.detail["wave"] == 1

    run = _embed_then_plan(project)  # wave 1 is open: the plan waits behind it
    assert run.message == ("Embedded 0 items. Wave 2 planned as asked (8 items); it waits to be opened once wave 1 "
                           "is closed."), run.message
    states = dict(Wave.objects.filter(project=project).values_list("number", "state"))
    assert states == {1: Wave.OPEN, 2: Wave.PLANNED}, states

    run = _embed_then_plan(project)  # a plan already waits: nothing planned, and the run says why
    assert run.message.startswith("Embedded 0 items. Nothing planned: Wave 2 is already planned"), run.message
    assert Wave.objects.filter(project=project).count() == 2
