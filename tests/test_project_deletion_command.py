"""manage.py delete_project: it shows what goes, deletes with --yes, refuses without a terminal to
confirm on, asks for the slug on a terminal (a real pseudo-terminal and a real process), and
refuses while work runs unless --force. Refusals exit 1 (CommandError) and delete nothing."""
import io
import os
import pty
import select
import subprocess
import sys
import time

import pytest
from django.core.management import CommandError, call_command

from tests.service_processes import ROOT, require_postgres, service_env
from tests.test_project_deletion_helpers import import_with_rejects


@pytest.fixture
def project(project_factory, make_user, settings, tmp_path):
    """A project with an import (items, LSH rows, a rejects file) and a model file."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.LONGTAIL_ARTIFACT_DIR = tmp_path / "artifacts"
    # No embedding run after the import (it would be queued work, which the deletion waits for):
    # the transactional test commits the import, which would send it.
    settings.LONGTAIL_EMBED_AFTER_IMPORT = False
    project = project_factory("tickets")
    import_with_rejects(project, make_user("lead"))
    model_file = tmp_path / "artifacts" / "tickets" / "model-v1.bin"
    model_file.parent.mkdir(parents=True)
    model_file.write_bytes(b"model")
    return project


def exists(project) -> bool:
    from labeling.projects.models import Project

    return Project.objects.filter(pk=project.pk).exists()


def test_yes_deletes_and_says_what(project, tmp_path, django_capture_on_commit_callbacks):
    from labeling.items.models import Item

    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("delete_project", "tickets", "--yes", stdout=out)
    text = out.getvalue()
    assert "2  items" in text and "1  imports" in text and "3  top-level labels" in text, text
    assert f"folder {tmp_path / 'artifacts' / 'tickets'}\n" in text
    assert "Deleted project “tickets”" in text
    assert not exists(project) and not Item.objects.exists()
    assert not (tmp_path / "artifacts" / "tickets").exists() and not (tmp_path / "media" / "imports" / "tickets").exists()


def test_without_yes_and_no_terminal_it_refuses(project, tmp_path):
    # pytest's stdin is no terminal, as a script's or cron's is not.
    with pytest.raises(CommandError, match="no terminal to confirm on. Run again with --yes") as refused:
        call_command("delete_project", "tickets", stdout=io.StringIO())
    assert refused.value.returncode == 1
    assert exists(project) and (tmp_path / "artifacts" / "tickets" / "model-v1.bin").is_file()


def test_unknown_slug_is_refused(db):
    with pytest.raises(CommandError, match="No project with the slug “nope”; nothing deleted."):
        call_command("delete_project", "nope", "--yes", stdout=io.StringIO())


def test_running_work_is_refused_unless_forced(project, django_capture_on_commit_callbacks):
    from labeling.loop.triggers import request_retrain

    run = request_retrain(project, reason="manual")  # never sent: pending
    with pytest.raises(CommandError, match=rf"task run {run.pk} \(retrain, .*run again with --force"):
        call_command("delete_project", "tickets", "--yes", stdout=io.StringIO())
    assert exists(project)
    err = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("delete_project", "tickets", "--yes", "--force", stdout=io.StringIO(), stderr=err)
    assert not exists(project) and f"task run {run.pk}" in err.getvalue()


def run_on_terminal(args, answer: bytes, env) -> tuple[int, str]:
    """Run manage.py with a pseudo-terminal as its stdin and stdout; type ``answer`` at the prompt."""
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=env, stdin=child, stdout=child,
                            stderr=child, close_fds=True)
    os.close(child)
    seen, answered, deadline = b"", False, time.monotonic() + 120
    while time.monotonic() < deadline:
        if not answered and b"to delete it for good: " in seen:
            os.write(main, answer + b"\n")
            answered = True
        ready, _, _ = select.select([main], [], [], 1)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(main)
    return proc.wait(timeout=60), seen.decode(errors="replace")


@pytest.mark.django_db(transaction=True)
def test_on_a_terminal_it_deletes_only_when_the_slug_is_typed(project, tmp_path):
    require_postgres()  # a second process cannot share pytest's SQLite database
    env = service_env(MEDIA_ROOT=tmp_path / "media", LONGTAIL_ARTIFACT_DIR=tmp_path / "artifacts")
    code, text = run_on_terminal(["delete_project", "tickets"], b"yes", env)
    assert code == 1 and "Not confirmed (typed “yes”, not “tickets”); nothing deleted." in text, text
    assert exists(project) and (tmp_path / "artifacts" / "tickets").is_dir()
    code, text = run_on_terminal(["delete_project", "tickets"], b"tickets", env)
    assert code == 0 and "Deleted project “tickets”" in text, text
    assert not exists(project)
    assert not (tmp_path / "artifacts" / "tickets").exists() and not (tmp_path / "media" / "imports" / "tickets").exists()
