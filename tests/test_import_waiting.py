"""An import that waits for another import into the same project (imports of one project run one
after the other) says so, naming the file it waits for, on its batch, the progress API and the
import page; the note is gone once it runs. Before, it sat at "running", 0 %, with no reason."""
import threading
import time

import pytest
from django.db import connections
from django.test import Client

from labeling.items.importer import run_import
from labeling.items.models import ImportBatch, Item
from labeling.projects.models import Membership


def csv_file(path, prefix, rows=50):
    path.write_text("text,label\n" + "".join(f"{prefix} ticket {i} about order {i * 31},ham\n" for i in range(rows)))
    return path


@pytest.mark.django_db(transaction=True)
def test_an_import_waiting_for_another_says_which_and_forgets_it_once_it_runs(project_factory, make_user, tmp_path,
                                                                            postgres_only):
    project = project_factory("wait", labels=("ham", "spam"), sources=("web",))
    first_path, second_path = csv_file(tmp_path / "big.csv", "first"), csv_file(tmp_path / "late.csv", "second")
    first_validated, release_first = threading.Event(), threading.Event()
    results = {}

    def run_first():
        def hold():
            first_validated.set()
            release_first.wait(timeout=60)
        try:
            results["first"] = run_import(project, first_path, filename="big.csv", after_validation=hold)
        finally:
            connections.close_all()

    def run_second():
        try:
            results["second"] = run_import(project, second_path, batch=second_batch)
        finally:
            connections.close_all()

    second_batch = ImportBatch.objects.create(project=project, filename="late.csv")
    first = threading.Thread(target=run_first)
    first.start()
    assert first_validated.wait(timeout=60)
    second = threading.Thread(target=run_second)
    second.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            second_batch.refresh_from_db()
            if second_batch.waiting:
                break
            time.sleep(0.05)
        assert second_batch.state == ImportBatch.RUNNING and second_batch.rows_imported == 0
        assert second_batch.waiting == ("waiting for the import of big.csv into this project to end: imports of "
                                        "one project run one after the other")
        lead = make_user("lea")
        Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
        client = Client()
        client.force_login(lead)
        polled = client.get(f"/api/projects/wait/imports/{second_batch.pk}/").json()
        assert polled["waiting"] == second_batch.waiting
        page = client.get(f"/p/wait/import/{second_batch.pk}/").content.decode()
        assert ('<p id="import-waiting">Waiting for the import of big.csv into this project to end: imports of one '
                'project run one after the other.</p>') in page
    finally:
        release_first.set()
        first.join(60)
        second.join(60)
    assert results["first"].ok and results["second"].ok
    second_batch.refresh_from_db()
    assert second_batch.state == ImportBatch.DONE and second_batch.waiting == ""
    assert Item.objects.filter(project=project).count() == 100


@pytest.mark.django_db
def test_an_import_that_does_not_wait_has_no_note(project_factory, tmp_path):
    project = project_factory("alone", labels=("ham", "spam"), sources=("web",))
    result = run_import(project, csv_file(tmp_path / "a.csv", "only"))
    assert result.ok and ImportBatch.objects.get(pk=result.batch.pk).waiting == ""


@pytest.mark.django_db
def test_a_process_still_on_the_previous_release_can_insert_an_import(project_factory):
    """During an upgrade, web or worker processes not yet restarted insert import rows without the
    new column: the database fills it (a Python-only default made those inserts fail)."""
    from django.db import connection
    from django.utils import timezone

    project = project_factory("rolling")
    fields = [f for f in ImportBatch._meta.concrete_fields if f.name not in ("id", "waiting", "created_by", "finished_at")]
    values = {"project": project.pk, "filename": "old.csv", "created_at": timezone.now(), "updated_at": timezone.now(),
              "state": ImportBatch.PENDING, "errors": "[]"}
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    params = [values.get(f.name, f.get_default()) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {ImportBatch._meta.db_table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})",
                       params)
    assert ImportBatch.objects.get(filename="old.csv").waiting == ""
