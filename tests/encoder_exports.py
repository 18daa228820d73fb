"""The bundled encoder's ONNX exports (fp32 and int8), built once per test run in the product's own
export cache and copied to the test files that only need them to exist (building them takes tens of
seconds of CPU each time).

The shared cache is the one the test processes point the app at (``LONGTAIL_ENCODER_CACHE_ROOT``,
set by tests/conftest.py; ``var/test-cache`` otherwise): ``ensure_onnx_model`` builds there under
its own file lock, with atomic renames, and rebuilds what no longer matches the model files or the
running packages, so nothing here repeats that. ``copy_exports(target)`` gives a test an artifact
directory the product finds as if it had built it there: real copies, which a test may edit, corrupt
or rebuild. The test that the product builds the export itself, offline, on first use builds it for
real in a folder of its own (tests/learner/test_encoder_backends.py) and ``offer``s it as the
shared one when there is none yet."""
import os
import shutil
from pathlib import Path

from learner.embedding import bundled_model_path
from learner.encoders.onnx_export import cached_onnx_model, ensure_onnx_model

ROOT = Path(__file__).resolve().parent.parent


def shared_root() -> Path:
    return Path(os.environ.get("LONGTAIL_ENCODER_CACHE_ROOT") or ROOT / "var" / "test-cache")


def copy_exports(target: Path, model_path: str | None = None) -> Path:
    """``target`` as an artifact directory holding the fp32 and int8 exports of ``model_path`` (the
    bundled model by default), built in the shared cache first if the run has none yet. Returns
    ``target``."""
    model_path = str(model_path or bundled_model_path())
    onnx_file, _ = ensure_onnx_model(model_path, shared_root(), "int8", threads=2, speed_rounds=1)
    folder = onnx_file.parent  # encoders/<model files hash>-v<format>/
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(folder, target / "encoders" / folder.name, ignore=shutil.ignore_patterns(".lock"))
    return target


def offer(artifact_dir: Path, model_path: str | None = None) -> None:
    """Keep ``artifact_dir``'s exports (a real build) as the shared ones when the shared cache has no
    folder for them yet, so that a run whose first user of them is that build does not build them a
    second time: copied aside, then renamed into place, which fails (and the copy is dropped) where
    another process made that folder meanwhile."""
    model_path = str(model_path or bundled_model_path())
    if cached_onnx_model(model_path, shared_root(), "int8") is not None:
        return
    for source in (Path(artifact_dir) / "encoders").iterdir():
        dest = shared_root() / "encoders" / source.name
        if not source.is_dir() or dest.exists():
            continue
        aside = dest.with_name(f"{dest.name}.offered-{os.getpid()}")
        shutil.copytree(source, aside, ignore=shutil.ignore_patterns(".lock"))
        try:
            os.rename(aside, dest)
        except OSError:
            shutil.rmtree(aside, ignore_errors=True)
