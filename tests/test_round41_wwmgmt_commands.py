"""Round 41, management commands run as an admin runs them (real processes where the behaviour is the
process's: a closed pipe, a broker with no worker): one line for each problem, never a traceback."""
import io
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from django.core.management import CommandError, call_command, load_command_class

from labeling.modeling.models import TaskRun

from .service_processes import ROOT, fresh_broker, require_postgres, require_redis, service_env


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.mark.django_db(transaction=True)
def test_export_labels_into_a_pipe_its_reader_closed_says_one_line(project_factory):
    # `export_labels alpha --out - | head -0`: was rc 1 and a 19-line BrokenPipeError traceback.
    require_postgres()
    project_factory("alpha")
    export = subprocess.Popen([sys.executable, "manage.py", "export_labels", "alpha", "--format", "csv", "--out", "-"],
                              cwd=ROOT, env=service_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    export.stdout.close()  # the reader is gone before the command writes its first line
    _, err = export.communicate(timeout=120)
    assert export.returncode == 1, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.strip().splitlines() == [err.strip()] and "Broken pipe" in err, err


@pytest.mark.django_db(transaction=True)
def test_import_items_with_the_broker_up_says_a_worker_must_run(project_factory, tmp_path):
    # With Redis up and no worker the embed run stays queued (delete_project refuses on it until
    # --force) and the command said nothing about it.
    require_postgres()
    require_redis()
    fresh_broker()
    project = project_factory("alpha")
    path = tmp_path / "t.csv"
    path.write_text("text\nhello there\n", encoding="utf-8")
    try:
        done = subprocess.run([sys.executable, "manage.py", "import_items", "alpha", str(path), "--no-progress"],
                              cwd=ROOT, env=service_env(CELERY_TASK_ALWAYS_EAGER="0"), capture_output=True,
                              text=True, timeout=120)
    finally:
        fresh_broker()  # no worker of a later test must take this message
    assert done.returncode == 0, done.stderr
    run = TaskRun.objects.get(project=project, kind="embed")
    assert run.state == TaskRun.PENDING, run.message
    worker_lines = [line for line in done.stdout.splitlines() if "worker" in line]
    assert len(worker_lines) == 1 and f"task run {run.pk}" in worker_lines[0], done.stdout
    assert "Traceback" not in done.stderr, done.stderr


@pytest.mark.django_db
def test_import_items_warns_that_rejects_needs_skip_invalid(project_factory, tmp_path):
    project_factory("alpha")
    path = tmp_path / "t.csv"
    path.write_text("text\nhello there\n", encoding="utf-8")
    err = io.StringIO()
    call_command("import_items", "alpha", str(path), "--rejects", str(tmp_path / "r.csv"), "--no-progress",
                 stdout=io.StringIO(), stderr=err)
    lines = [line for line in err.getvalue().splitlines() if "--rejects" in line]
    assert len(lines) == 1 and "--skip-invalid" in lines[0], err.getvalue()


def test_helps_say_what_each_option_is():
    simulate = load_command_class("labeling.modeling", "simulate").create_parser("manage.py", "simulate")
    helps = {action.dest: action.help for action in simulate._actions}
    for dest in ("budget", "wave_size", "seed", "rare_threshold", "random_share", "no_progress"):
        assert helps[dest], f"simulate --{dest.replace('_', '-')} has no help"
    importer = load_command_class("labeling.items", "import_items").create_parser("manage.py", "import_items")
    file_help = next(action.help for action in importer._actions if action.dest == "file")
    for suffix in ("csv", "tsv", "txt", "jsonl", "ndjson", "json"):
        assert re.search(rf"\.{suffix}\b", file_help), (suffix, file_help)


@pytest.mark.parametrize("option", ["--data", "--rules"])
def test_simulate_names_a_folder_as_a_folder(tmp_path, option):
    data = _jsonl(tmp_path / "set.jsonl", [{"text": f"t {i}", "label": "ab"[i % 2]} for i in range(20)])
    folder = tmp_path / "inputs"
    folder.mkdir()
    args = {"--data": str(data), "--rules": None, option: str(folder)}
    given = [item for key, value in args.items() if value for item in (key, value)]
    with pytest.raises(CommandError, match="is a folder, not a file"):
        call_command("simulate", *given, "--out", str(tmp_path / "out"), "--no-progress")


@pytest.mark.parametrize("other_label_on", ["no-row", "test-rows-only"])
def test_simulate_one_label_on_the_pool_is_refused_before_any_folder(tmp_path, other_label_on):
    # Was, after the encoding: "ValueError: training needs at least 2 different labels" with its
    # traceback, and an empty --out folder. A second label on held-out test rows only trains nothing.
    rows = [{"text": f"ticket {i}", "label": "a"} for i in range(20)]
    if other_label_on == "test-rows-only":
        rows += [{"text": f"other {i}", "label": "b", "split": "test"} for i in range(5)]
    data = _jsonl(tmp_path / "set.jsonl", rows)
    out = tmp_path / "out"
    with pytest.raises(CommandError, match=r"set\.jsonl.*at least 2 different labels.*only the label 'a'"):
        call_command("simulate", "--data", str(data), "--out", str(out), "--no-progress")
    assert not out.exists()


def test_simulate_embeddings_of_python_objects_do_not_advise_loading_pickles(tmp_path):
    data = _jsonl(tmp_path / "set.jsonl", [{"text": f"t {i}", "label": "ab"[i % 2]} for i in range(4)])
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
    with pytest.raises(CommandError) as refused:
        call_command("simulate", "--data", str(data), "--out", str(tmp_path / "out"), "--embeddings", str(objects),
                     "--no-progress")
    assert "pickle" not in str(refused.value) and "objects" in str(refused.value), str(refused.value)


def test_simulate_refuses_the_default_embedding_cache_when_it_is_a_file(tmp_path, settings):
    settings.LONGTAIL_ARTIFACT_DIR = tmp_path / "artifacts"
    (tmp_path / "artifacts").mkdir()
    (tmp_path / "artifacts" / "emb-cache").write_text("a file\n")
    data = _jsonl(tmp_path / "set.jsonl", [{"text": f"t {i}", "label": "ab"[i % 2]} for i in range(20)])
    with pytest.raises(CommandError, match="--embedding-cache .*the default"):
        call_command("simulate", "--data", str(data), "--out", str(tmp_path / "out"), "--no-progress")
