"""Round 41, management commands as an admin scripts them: a bad argument or a closed pipe is one
line on stderr and a non-zero exit status (CommandError), never a traceback; messages say what is
wrong with the path given."""
import json
import socket
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from labeling.modeling.models import TaskRun

from .service_processes import ROOT, require_postgres, service_env

pytestmark = pytest.mark.django_db


class ClosedPipe:
    """stdout of `manage.py export_labels p --out - | head -1` once head has exited."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")

    def isatty(self):
        return False


def test_export_labels_to_a_closed_pipe_is_a_command_error_not_a_traceback(project_factory):
    # `export_labels alpha --format csv --out - | head -1` printed a 19-line BrokenPipeError traceback
    # (export_labels.py, handle: self.stdout.write(chunk)); --out /dev/stdout into the same pipe gives
    # "CommandError: --out /dev/stdout: cannot write it (Broken pipe)." (export_file catches OSError).
    project_factory("alpha")
    try:  # one line on stderr, exit status 1: what a script can handle
        with pytest.raises(CommandError, match="cannot write"):
            call_command("export_labels", "alpha", "--format", "csv", "--out", "-", stdout=ClosedPipe())
    except BrokenPipeError as exc:
        pytest.fail(f"export_labels --out - into a closed pipe ends in a traceback: {exc!r}")


def test_import_items_names_a_folder_as_a_folder_not_as_a_missing_file(project_factory, tmp_path):
    project_factory("alpha")
    folder = tmp_path / "tickets"
    folder.mkdir()
    with pytest.raises(CommandError) as refused:
        call_command("import_items", "alpha", str(folder), "--no-progress")
    assert "no such file" not in str(refused.value), str(refused.value)


def test_simulate_embeddings_that_are_not_npy_do_not_advise_loading_pickles(tmp_path):
    data = tmp_path / "set.jsonl"
    data.write_text("".join(json.dumps({"text": f"ticket {i}", "label": "ab"[i % 2]}) + "\n" for i in range(20)))
    not_npy = tmp_path / "vectors.csv"
    not_npy.write_text("0.1,0.2\n0.3,0.4\n")
    with pytest.raises(CommandError) as refused:
        call_command("simulate", "--data", str(data), "--out", str(tmp_path / "out"), "--embeddings", str(not_npy),
                     "--no-progress")
    message = str(refused.value)
    # was: "--embeddings …/vectors.csv: This file contains pickled (object) data. If you trust the file you can
    # load it unsafely using the `allow_pickle=` keyword argument or `pickle.load()`."
    assert "pickle" not in message, message


@pytest.mark.django_db(transaction=True)  # the command runs in another process: the project is committed
def test_import_items_says_when_the_embedding_could_not_be_queued(project_factory, tmp_path):
    # With the broker down, `import_items` printed "imported 1 of 1 rows" and exit status 0, then a
    # ~100-line redis traceback (triggers._enqueue's log.exception); the run is failed with "Could not
    # queue the work (is the broker up?)" but the command itself never says the items were not embedded.
    # A real `manage.py import_items` against this test database, with REDIS_URL at a closed port.
    require_postgres()
    project = project_factory("alpha")
    path = tmp_path / "t.csv"
    path.write_text("text\nhello there\n")
    done = subprocess.run([sys.executable, "manage.py", "import_items", "alpha", str(path), "--no-progress"],
                          cwd=ROOT, env=service_env(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/12",
                                                    CELERY_TASK_ALWAYS_EAGER="0"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr  # the import itself went through (the command's help says so)
    assert "imported 1 of 1 rows" in done.stdout, done.stdout
    run = TaskRun.objects.get(project=project, kind="embed")
    assert run.state == TaskRun.FAILED, run.message  # the command really met the broker down
    said = done.stderr.strip().splitlines()
    queue_lines = [line for line in said if "could not be queued" in line]
    assert len(queue_lines) == 1 and "broker" in queue_lines[0].lower(), done.stderr
    assert "Traceback" not in done.stderr and len(said) <= 2, done.stderr


def closed_port() -> int:
    with socket.socket() as s:  # bound, never listening, closed: nothing answers there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("seed", ["-1", "4294967296"])
def test_simulate_refuses_a_seed_numpy_and_sklearn_cannot_take_before_any_work(tmp_path, seed):
    # `simulate --seed -1` ended, after encoding the data set (minutes on a real one), in numpy's
    # "ValueError: expected non-negative integer" traceback (learner/simulation/data.py, split_pool_test);
    # `--seed 4294967296` in sklearn's InvalidParameterError for LogisticRegression's random_state.
    import numpy as np

    data = tmp_path / "set.jsonl"
    data.write_text("".join(json.dumps({"text": f"ticket {i}", "label": "abc"[i % 3]}) + "\n" for i in range(60)))
    vectors = np.random.default_rng(0).normal(size=(60, 384)).astype("float32")
    np.save(tmp_path / "emb.npy", vectors)
    with pytest.raises(CommandError, match="--seed"):
        call_command("simulate", "--data", str(data), "--out", str(tmp_path / "out"), "--embeddings",
                     str(tmp_path / "emb.npy"), "--budget", "20", "--wave-size", "10", "--rare-threshold", "5",
                     "--seed", seed, "--no-progress")


@pytest.mark.parametrize("where", ["a-file", "a-file/sub"])
def test_simulate_refuses_an_embedding_cache_that_cannot_be_a_folder(tmp_path, where):
    # `--embedding-cache FILE` (or a folder under a file) was not checked with --out's checks: the data set
    # was encoded (minutes on a real one) and the command then ended in FileExistsError / NotADirectoryError
    # tracebacks from DirectoryEmbeddingCache.put_many (learner/embedding.py).
    data = tmp_path / "set.jsonl"
    data.write_text("".join(json.dumps({"text": f"ticket number {i} about {'abc'[i % 3]}", "label": "abc"[i % 3]})
                            + "\n" for i in range(30)))
    (tmp_path / "a-file").write_text("not a folder\n")
    with pytest.raises(CommandError, match="--embedding-cache"):
        call_command("simulate", "--data", str(data), "--out", str(tmp_path / "out"), "--embedding-cache",
                     str(tmp_path / where), "--budget", "20", "--wave-size", "10", "--rare-threshold", "5",
                     "--no-progress")


def test_simulate_a_data_file_with_one_label_is_a_command_error_not_a_traceback(tmp_path):
    # A JSONL whose rows all carry one label ended, after the encoding, in "ValueError: training needs at
    # least 2 different labels, got ['a'] over 24 rows" with its traceback (learner/training/fit.py,
    # train_classifier, through learner/simulation/pool.py): load_jsonl checks each row, not the set.
    import numpy as np

    data = tmp_path / "one.jsonl"
    data.write_text("".join(json.dumps({"text": f"ticket {i} hello", "label": "a"}) + "\n" for i in range(30)))
    np.save(tmp_path / "emb.npy", np.random.default_rng(0).normal(size=(30, 384)).astype("float32"))
    with pytest.raises(CommandError, match="label"):
        call_command("simulate", "--data", str(data), "--out", str(tmp_path / "out"), "--embeddings",
                     str(tmp_path / "emb.npy"), "--budget", "20", "--wave-size", "10", "--rare-threshold", "5",
                     "--no-progress")
