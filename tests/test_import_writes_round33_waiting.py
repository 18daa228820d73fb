"""``manage.py import_items`` waiting for another import of the same project keeps its batch's
heartbeat moving, so the stale-import sweep that workers run leaves it running: before, after
LONGTAIL_TASK_STALE_SECONDS of waiting its batch was failed ("the import's worker stopped … upload
it again"), then the command imported anyway and the batch flipped to done, and the upload the
message asked for was refused as a duplicate. And an import whose batch is failed meanwhile all the
same writes nothing and leaves the batch as it was failed, wherever it is (waiting, validated,
half written)."""
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.items.importer import project_imports_locked, run_import
from labeling.items.models import ImportBatch, Item
from labeling.items.services import import_path
from labeling.loop.runs import expire_stale_imports

from .db_threads import in_thread
from .service_processes import ROOT, service_env

pytestmark = pytest.mark.django_db(transaction=True)
STALE = 2  # seconds without a heartbeat before a running import counts as interrupted (test setting)
SWEPT = "Interrupted: the import's worker stopped"


def _age_and_sweep(batch_id):
    """What a worker's sweep does to a batch that stopped beating: its heartbeat is made old, then
    the sweep runs (on the caller's connection)."""
    ImportBatch.objects.filter(pk=batch_id).update(updated_at=timezone.now() - timedelta(hours=1))
    return expire_stale_imports()


def test_the_command_waiting_for_another_import_is_not_taken_for_dead(postgres_only, project_factory, tmp_path,
                                                                      settings):
    settings.LONGTAIL_TASK_STALE_SECONDS = STALE
    project = project_factory("waits", labels=("ham", "spam"), sources=("web",))
    path = tmp_path / "small.csv"
    path.write_text("text,label\nsmall file row one,ham\nsmall file row two,spam\n")
    command = None
    states = []
    with project_imports_locked(project):  # another import of the project is running
        try:
            command = subprocess.Popen(
                [sys.executable, "manage.py", "import_items", "waits", str(path), "--no-progress"], cwd=ROOT,
                env=service_env(LONGTAIL_TASK_STALE_SECONDS=STALE, LONGTAIL_TASK_HEARTBEAT_SECONDS=0.4),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 60
            while not ImportBatch.objects.filter(project=project, filename="small.csv").exclude(waiting="").exists():
                assert time.monotonic() < deadline and command.poll() is None, command.communicate()
                time.sleep(0.1)
            until = time.monotonic() + 3 * STALE  # the workers' sweep runs meanwhile, again and again
            while time.monotonic() < until:
                expire_stale_imports()
                states.append(ImportBatch.objects.get(project=project, filename="small.csv").state)
                time.sleep(0.2)
        except BaseException:
            if command is not None:
                command.kill()
            raise
    out, err = command.communicate(timeout=120)

    assert set(states) == {ImportBatch.RUNNING}, states
    assert command.returncode == 0, err
    assert "small.csv: imported 2 of 2 rows into 'waits'" in out
    batch = ImportBatch.objects.get(project=project, filename="small.csv")
    assert (batch.state, batch.rows_imported, batch.errors, batch.waiting) == (ImportBatch.DONE, 2, [], "")
    assert Item.objects.filter(project=project).count() == 2


def test_an_import_failed_between_validation_and_write_writes_nothing(project_factory, tmp_path):
    project = project_factory("failed-before-write", labels=("ham",), sources=())
    path = tmp_path / "late.csv"
    path.write_text("text,label\nfirst row,ham\nsecond row,ham\n")
    batch = ImportBatch.objects.create(project=project, filename="late.csv")

    result = run_import(project, path, batch=batch, after_validation=lambda: _age_and_sweep(batch.pk))

    batch.refresh_from_db()
    assert batch.state == ImportBatch.FAILED and batch.rows_imported == 0
    assert [e["message"][: len(SWEPT)] for e in batch.errors] == [SWEPT]  # the sweep's word stands
    assert not Item.objects.filter(project=project).exists()
    assert not result.ok and result.rows_imported == 0
    assert [e.message for e in result.errors] == [
        f"the import was ended while it ran, so it stopped and wrote nothing: {batch.errors[0]['message']}"]


def test_an_import_failed_while_it_writes_rolls_its_rows_back(postgres_only, project_factory, tmp_path):
    project = project_factory("failed-while-writing", labels=("ham",), sources=())
    path = tmp_path / "big.csv"
    path.write_text("text\n" + "".join(f"ticket {i} about order {i * 7919 % 100003}\n" for i in range(6000)))
    batch = ImportBatch.objects.create(project=project, filename="big.csv")
    swept = {}

    def while_writing(phase, fraction, counts):
        if phase == "write" and counts.get("rows_imported") and not swept:  # the first chunk is written
            thread, swept["outcome"] = in_thread(_age_and_sweep, batch.pk)  # a worker, on its own connection
            thread.join(timeout=30)

    result = import_path(project, path, batch=batch, progress=while_writing)  # its progress is written too

    assert [b.pk for b in swept["outcome"]["result"]] == [batch.pk]
    batch.refresh_from_db()
    assert batch.state == ImportBatch.FAILED and batch.errors[0]["message"].startswith(SWEPT)
    assert (batch.rows_imported, batch.progress) == (0, 1.0)  # the failure's counts, not the write's
    assert not Item.objects.filter(project=project).exists()
    assert not result.ok and result.rows_imported == 0
