"""``manage.py export_model <slug> --version N`` exports model version N (as ``--model-version N``
and the API's ``?version=N``). Before, Django's own ``--version`` answered it: Django's version
number, exit status 0, and no bundle, which a script took for success."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import django
import pytest
from django.core.management import call_command

from .test_export_final_versions import versions  # noqa: F401 - fixture: project "vers", versions 1-7

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_version_n_exports_that_model_version(versions, tmp_path):  # noqa: F811
    out = tmp_path / "v3.zip"
    call_command("export_model", "vers", "--version", "3", "--out", str(out))
    assert json.loads(zipfile.ZipFile(out).read("model.json"))["version"] == 3
    call_command("export_model", "vers", "--version", "1", "--out", str(out))
    assert json.loads(zipfile.ZipFile(out).read("model.json"))["version"] == 1


def manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "export_model", *args], cwd=ROOT, env=os.environ.copy(),
                          capture_output=True, text=True, timeout=180)


def test_version_without_a_number_is_an_error_not_djangos_version(tmp_path):
    """A real manage.py process: the argument error comes before any database access."""
    result = manage("vers", "--version", "--out", str(tmp_path / "never-written.zip"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "argument --model-version/--version: expected one argument" in result.stderr
    assert django.get_version() not in result.stdout
    assert not (tmp_path / "never-written.zip").exists()


def test_the_help_names_both_spellings():
    result = manage("--help")
    assert result.returncode == 0, result.stderr
    assert "--model-version N, --version N" in result.stdout
    assert "--version N), as a zip bundle" in " ".join(result.stdout.split())
