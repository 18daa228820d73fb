"""The bundled encoder's ONNX exports (fp32 and int8), built once per test run and shared by the
test files that only need them to exist (building them takes ~30-50 s of CPU each time).

The shared copy lives under ``var/test-cache/onnx-exports/<key>/`` laid out as the product's own
artifact directory (``encoders/<model files hash>-v<format>/manifest.json`` and the two files), so
``copy_exports(target)`` gives a test an artifact directory the product finds as if it had built it
there. ``key`` is a digest of the model folder's files and of everything the export depends on
(``export_dependencies``: export format, opset, package versions, int8 recipe): another model,
exporter or package version gets its own folder, never a stale one. Building, checking and copying
happen under one file lock, so two xdist processes never build it twice nor read a half-written
copy; the build goes to a temporary folder renamed into place, and a copy whose files no longer
match their manifest (``cached_onnx_model`` says so) is rebuilt.

The test that the product builds the export itself, offline, on first use builds it for real
(tests/learner/test_encoder_backends.py) and ``offer``s its build as the shared one when there is
none yet; the rebuild tests rebuild from a copy."""
import hashlib
import json
import os
import shutil
from pathlib import Path

from filelock import FileLock

from learner.embedding import bundled_model_path
from learner.encoders.onnx_export import (
    cached_onnx_model,
    ensure_onnx_model,
    export_dependencies,
    model_files_hash,
)

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "test-cache" / "onnx-exports"


def cache_key(model_path: str) -> str:
    """What the shared export depends on: the model folder's files and the exporter's record."""
    record = {"model_files_sha256": model_files_hash(model_path),
              "fp32": export_dependencies("fp32"), "int8": export_dependencies("int8")}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:24]


def _intact(model_path: str, artifact_dir: Path) -> bool:
    """Whether ``artifact_dir`` holds both exports, intact and built with the running packages."""
    return artifact_dir.is_dir() and cached_onnx_model(model_path, artifact_dir, "int8") is not None


def _publish(where: Path, fill) -> None:
    """``fill(folder)`` writes an artifact directory into a temporary folder, renamed to ``where``."""
    shutil.rmtree(where, ignore_errors=True)
    building = CACHE / f"{where.name}.building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    fill(building)
    os.replace(building, where)


def offer(artifact_dir: Path, model_path: str | None = None) -> None:
    """Keep ``artifact_dir``'s exports (a real build) as the shared ones when there are none yet, so
    that a run whose first user of them is that build does not build them a second time."""
    model_path = str(model_path or bundled_model_path())
    CACHE.mkdir(parents=True, exist_ok=True)
    where = CACHE / cache_key(model_path)
    with FileLock(f"{where}.lock"):
        if not _intact(model_path, where) and _intact(model_path, Path(artifact_dir)):
            _publish(where, lambda folder: shutil.copytree(Path(artifact_dir) / "encoders", folder / "encoders"))


def copy_exports(target: Path, model_path: str | None = None) -> Path:
    """``target`` as an artifact directory holding the fp32 and int8 exports of ``model_path`` (the
    bundled model by default), built first if the run has none yet: real copies of the shared files,
    so a test may edit, corrupt or rebuild them. Returns ``target``."""
    model_path = str(model_path or bundled_model_path())
    CACHE.mkdir(parents=True, exist_ok=True)
    where = CACHE / cache_key(model_path)
    with FileLock(f"{where}.lock"):
        if not _intact(model_path, where):
            _publish(where, lambda folder: ensure_onnx_model(model_path, folder, "int8", threads=2, speed_rounds=1))
        target.mkdir(parents=True, exist_ok=True)
        shutil.copytree(where / "encoders", target / "encoders")
    return target
