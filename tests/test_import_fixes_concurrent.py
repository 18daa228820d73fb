"""Two imports of the same file into one project at the same moment (two threads on their own
PostgreSQL connections; two real Celery workers fed through the upload API): the second must be
refused as a re-import of the first (docs/intake.md), not write every item and its label again,
and with external ids it must name line and field instead of failing with the database's message."""
import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections

from labeling.annotations.models import Annotation
from labeling.items.importer import run_import
from labeling.items.models import ImportBatch, Item
from labeling.projects.models import Membership
from tests.service_processes import fresh_broker, require_postgres, require_redis, start_worker, stop

ROWS = 3000


def spam_file(path, *, external_ids=False):
    """Like the sms_spam data set: a text and a label (ham or spam) per row."""
    lines = ["text,label,external_id" if external_ids else "text,label"]
    for i in range(ROWS):
        kind = "spam" if i % 7 == 0 else "ham"
        text = f"message {i}: {'WIN a prize now! call' if kind == 'spam' else 'see you at'} {i * 7919 % 100003}"
        lines.append(f"{text},{kind},S{i}" if external_ids else f"{text},{kind}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def spam_project(project_factory):
    return project_factory("sms", labels=("ham", "spam"), sources=("web",))


def _import_twice_at_once(project, path, options=lambda n: {}):
    """Each import waits after its validation until the other has validated too (at most a few
    seconds): without the project's import lock both validate before either writes, which is the
    race the upload API hit; with it, the second cannot validate until the first has committed.
    ``options(n)``: more arguments of run_import for import n."""
    validated = [threading.Event(), threading.Event()]
    results: list = [None, None]
    barrier = threading.Barrier(2)

    def run(n):
        def wait_for_the_other():
            validated[n].set()
            validated[1 - n].wait(timeout=3)

        try:
            barrier.wait()
            results[n] = run_import(project, path, filename="sms.csv", after_validation=wait_for_the_other,
                                    **options(n))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(r is not None for r in results)
    return results


@pytest.mark.django_db(transaction=True)
def test_the_same_file_imported_twice_at_once_is_refused_the_second_time(spam_project, postgres_only, tmp_path):
    path = spam_file(tmp_path / "sms.csv")
    results = _import_twice_at_once(spam_project, path)
    assert sorted(r.batch.state for r in results) == [ImportBatch.DONE, ImportBatch.FAILED]
    loser = next(r for r in results if not r.ok)
    assert loser.rows_imported == 0 and loser.error_count == ROWS
    first = loser.errors[0]
    assert (first.line, first.field) == (2, "text")
    assert f"already in project '{spam_project.slug}'" in first.message
    assert "would duplicate the item and its label" in first.message
    assert Item.objects.filter(project=spam_project).count() == ROWS
    assert Annotation.objects.filter(project=spam_project, origin=Annotation.IMPORT).count() == ROWS
    assert ImportBatch.objects.get(pk=loser.batch.pk).rows_imported == 0


@pytest.mark.django_db(transaction=True)
def test_the_same_external_ids_imported_twice_at_once_name_line_and_field(spam_project, postgres_only, tmp_path):
    path = spam_file(tmp_path / "sms.csv", external_ids=True)
    results = _import_twice_at_once(spam_project, path)
    assert sorted(r.batch.state for r in results) == [ImportBatch.DONE, ImportBatch.FAILED]
    loser = next(r for r in results if not r.ok)
    first = loser.errors[0]
    assert (first.line, first.field) == (2, "external_id")
    assert first.message.startswith(f"external_id 'S0' is already in project '{spam_project.slug}'")
    assert not any("duplicate key" in e.message for e in loser.errors)
    assert Item.objects.filter(project=spam_project).count() == ROWS


@pytest.mark.django_db(transaction=True)
def test_skip_invalid_imports_only_what_the_other_import_did_not(spam_project, postgres_only, tmp_path):
    """With 'skip invalid rows' the second import ends done with every row set aside as a re-import."""
    path = spam_file(tmp_path / "sms.csv")
    results = _import_twice_at_once(spam_project, path, lambda n: {
        "skip_invalid": True, "rejects_path": tmp_path / f"rejects-{n}.csv"})
    assert sorted(r.rows_imported for r in results) == [0, ROWS]
    assert sorted(r.rows_rejected for r in results) == [0, ROWS]
    assert Item.objects.filter(project=spam_project).count() == ROWS


@pytest.mark.worker
def test_two_uploads_at_once_through_two_workers(transactional_db, spam_project, make_user, settings, tmp_path, client):
    """Two real Celery workers (as docker-compose's worker with -c 2) take the two uploads at once."""
    require_redis()
    require_postgres()
    fresh_broker()
    settings.MEDIA_ROOT = media = tmp_path / "media"
    lead = make_user("lead")
    Membership.objects.create(user=lead, project=spam_project, role=Membership.LEAD)
    content = spam_file(tmp_path / "sms.csv").read_bytes()
    logs = [tmp_path / "worker-0.log", tmp_path / "worker-1.log"]
    workers = [start_worker(log, queues="default", MEDIA_ROOT=media) for log in logs]
    try:
        deadline = time.monotonic() + 90
        while not all(log.exists() and " ready." in log.read_text() for log in logs):
            assert time.monotonic() < deadline, "the workers did not start: " + logs[0].read_text()[-2000:]
            time.sleep(0.3)
        client.force_login(lead)
        answers = [client.post("/api/projects/sms/imports/", {"file": SimpleUploadedFile("sms.csv", content)})
                   for _ in range(2)]
        assert [a.status_code for a in answers] == [202, 202]
        ids = [a.json()["id"] for a in answers]
        deadline = time.monotonic() + 180
        while ImportBatch.objects.filter(id__in=ids, state__in=(ImportBatch.PENDING, ImportBatch.RUNNING)).exists():
            assert time.monotonic() < deadline, "\n".join(log.read_text()[-2000:] for log in logs)
            time.sleep(0.5)
    finally:
        for worker in workers:
            stop(worker)
    assert all("import_file" in log.read_text() for log in logs), "each worker must take one of the uploads"
    batches = list(ImportBatch.objects.filter(id__in=ids).order_by("finished_at"))
    assert [b.state for b in batches] == [ImportBatch.DONE, ImportBatch.FAILED], [b.errors[:1] for b in batches]
    assert batches[1].rows_imported == 0 and "would duplicate the item and its label" in batches[1].errors[0]["message"]
    assert Item.objects.filter(project=spam_project).count() == ROWS
    assert Annotation.objects.filter(project=spam_project).count() == ROWS
