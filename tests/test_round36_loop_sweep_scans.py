"""The workers' stale-run sweep reads the broker's queues once for all the runs it asks about
(labeling.loop.broker.look), against the real Redis broker with no worker. Before, it read them
once per pending run (``message_known``: every queue list, and all of them again a second later
for a message it did not find) besides once for the running ones (``waiting``): with an import's
hundreds of embedding chunks queued and many runs to ask about, each sweep read those chunks over
and over and slept a second per lost message. Its decisions are the same: a pending run whose
message is queued waits, one whose message is gone is failed as lost, a running run whose next
step is queued waits, one whose next step is nowhere is failed."""
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.service_processes import fresh_broker, require_redis
from tests.test_loop_helpers import build_project

STALE, VISIBILITY = 60, 600
QUEUED_CHUNKS = 500  # an import's embedding: one-item chunks on the embed queue


@pytest.fixture
def broker(settings):
    require_redis()
    fresh_broker()
    settings.LONGTAIL_TASK_STALE_SECONDS = STALE
    settings.LONGTAIL_BROKER_VISIBILITY_TIMEOUT = VISIBILITY
    yield
    fresh_broker()  # the messages left queued here must not reach a later test's worker


@pytest.fixture
def reads(broker, monkeypatch):
    """The sweep's reads of the queue lists and the unacked hash, counted on the broker's client."""
    from labeling.loop import broker as broker_module

    client = broker_module.client()
    calls = Counter()

    def counting(name):
        original = getattr(client, name)

        def counted(*args, **kwargs):
            calls[name] += 1
            return original(*args, **kwargs)
        return counted

    for name in ("lrange", "hvals"):
        monkeypatch.setattr(client, name, counting(name))
    return calls


def _queued_message() -> str:
    """The id of a real task message left on the embed queue (no worker takes it here)."""
    from labeling.loop.tasks import start_embedding

    return start_embedding.apply_async(args=[0], queue="embed").id


def _quiet(run):
    from labeling.modeling.models import TaskRun

    TaskRun.objects.filter(pk=run.pk).update(updated_at=timezone.now() - timedelta(seconds=STALE + 1))


def _runs(project, n):
    """n runs of each kind the sweep asks the broker about, all quiet past the cut-off."""
    from labeling.loop.runs import NEXT_STEPS, record_task_id
    from labeling.modeling.models import TaskRun

    made = {"kept": [], "lost": [], "waiting": [], "dead": []}
    for _ in range(n):
        for key, task_id in (("kept", _queued_message()), ("lost", str(uuid.uuid4()))):
            run = TaskRun.objects.create(project=project, kind="embed", message="Queued.", detail={"stage": "queued"})
            record_task_id(run.pk, task_id)
            made[key].append(run)
        for key, step in (("waiting", _queued_message()), ("dead", str(uuid.uuid4()))):
            made[key].append(TaskRun.objects.create(project=project, kind="embed", state=TaskRun.RUNNING,
                                                    detail={"stage": "embed", NEXT_STEPS: [step]}))
    for run in sum(made.values(), []):
        _quiet(run)
    return made


def _sweep_and_check(project, n, reads):
    """One sweep over n runs of each kind; its decisions checked; its reads returned."""
    from labeling.loop.runs import expire_stale_runs
    from labeling.modeling.models import TaskRun

    made = _runs(project, n)
    reads.clear()
    failed = expire_stale_runs(ask_broker=True)
    counted = dict(reads)
    assert sorted(r.pk for r in failed) == sorted(r.pk for r in made["lost"] + made["dead"])
    for run in made["kept"]:
        assert TaskRun.objects.get(pk=run.pk).state == TaskRun.PENDING
    for run in made["waiting"]:
        assert TaskRun.objects.get(pk=run.pk).state == TaskRun.RUNNING
    for run in made["lost"]:
        run.refresh_from_db()
        assert run.state == TaskRun.FAILED and run.message.startswith(f"Lost: queued {STALE + 1}"), run.message
    for run in made["dead"]:
        run.refresh_from_db()
        assert run.state == TaskRun.FAILED, run.message
        assert run.message.startswith(f"Interrupted: no heartbeat for {STALE + 1} s, and no step of it is queued"), \
            run.message
    TaskRun.objects.filter(pk__in=[r.pk for r in sum(made.values(), [])]).delete()  # the next sweep's are its own
    return counted


def test_the_sweep_reads_the_queues_as_often_for_many_runs_as_for_one(reads, db, project_factory):
    from labeling.loop.broker import _queue_lists

    project, _ = build_project(project_factory, slug="sweep-reads", n_items=20, n_labeled=8)
    for _ in range(QUEUED_CHUNKS):
        _queued_message()
    one = _sweep_and_check(project, 1, reads)
    many = _sweep_and_check(project, 6, reads)
    assert many == one, (one, many)
    # a message not found is looked for once more a second later: each list is read twice at most
    assert many["lrange"] <= 2 * len(_queue_lists()) and many["hvals"] <= 2, many


def test_a_sweep_with_nothing_to_ask_reads_nothing(reads, db, project_factory):
    """A web request's sweep never asks the broker; nor does a worker's that finds no quiet run."""
    from labeling.loop.runs import expire_stale_runs
    from labeling.modeling.models import TaskRun

    project, _ = build_project(project_factory, slug="sweep-idle", n_items=20, n_labeled=8)
    _runs(project, 2)
    assert expire_stale_runs(project) == []  # nothing is past the pending cut-off yet
    assert not reads
    TaskRun.objects.update(updated_at=timezone.now())
    assert expire_stale_runs(ask_broker=True) == []
    assert not reads
