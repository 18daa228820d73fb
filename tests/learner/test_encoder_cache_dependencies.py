"""The ONNX encoder cache is reused only for the environment and recipe it was built with.

The real export (fp32 + int8 of the bundled model) is the run's shared one (tests/encoder_exports.py),
copied once for the module; each test works on a hard-linked copy of that copy whose manifest
records another torch / onnxruntime version, another int8 recipe, or no record at all (an entry
written before the record existed), and checks that the file is rebuilt and its build-time check
measured again, not reused with the old figures."""
import json
import logging
import os
import shutil
from pathlib import Path

import onnxruntime
import pytest
import torch

from learner.embedding import bundled_model_path
from learner.encoders import onnx_export
from learner.encoders.onnx_export import ensure_onnx_model, file_sha256
from tests.encoder_exports import copy_exports

LOGGER = "learner.encoders.onnx_export"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return copy_exports(tmp_path_factory.mktemp("artifacts"))


def manifest_of(artifact_dir: Path) -> tuple[Path, dict]:
    [path] = list((artifact_dir / "encoders").glob("*/manifest.json"))
    return path, json.loads(path.read_text())


def copy_with(built: Path, target: Path, edit) -> tuple[Path, dict]:
    """A copy of the cache (files hard-linked: a rebuild replaces them, never writes into them)
    whose manifest ``edit`` changed; returns it and the files' inode / mtime before."""
    shutil.copytree(built, target, copy_function=os.link)
    manifest_path, manifest = manifest_of(target)
    edit(manifest["variants"])
    manifest_path.unlink()
    manifest_path.write_text(json.dumps(manifest))
    return target, stamps(target)


def stamps(artifact_dir: Path) -> dict:
    manifest_path, manifest = manifest_of(artifact_dir)
    return {name: (manifest_path.parent / e["file"]).stat().st_ino for name, e in manifest["variants"].items()}


def ensure(artifact_dir: Path, variant: str, caplog) -> tuple[dict, list[str]]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        _, entry = ensure_onnx_model(bundled_model_path(), artifact_dir, variant, threads=2, speed_rounds=1)
    return entry, [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_an_unchanged_entry_is_reused(built, tmp_path, caplog):
    artifact_dir, before = copy_with(built, tmp_path / "a", lambda variants: None)
    entry, warnings = ensure(artifact_dir, "int8", caplog)
    assert warnings == [] and stamps(artifact_dir) == before
    assert entry == manifest_of(built)[1]["variants"]["int8"]


def test_an_upgrade_of_torch_and_onnxruntime_rebuilds_and_rechecks(built, tmp_path, caplog):
    def older_build(variants):
        fp32 = variants["fp32"]
        fp32["depends_on"]["versions"].update(torch="1.13.0", onnxruntime="1.15.0")
        fp32["check"].update(max_cosine_distance=0.25, speedup=99.0)  # the old build's figures

    artifact_dir, before = copy_with(built, tmp_path / "a", older_build)
    entry, warnings = ensure(artifact_dir, "fp32", caplog)
    [warning] = warnings
    assert "model-fp32.onnx is stale" in warning and "rebuilding" in warning
    release = {"torch": torch.__version__.split("+")[0], "onnxruntime": onnxruntime.__version__.split("+")[0]}
    assert f"torch 1.13.0 → {release['torch']}" in warning and f"onnxruntime 1.15.0 → {release['onnxruntime']}" in warning
    assert stamps(artifact_dir)["fp32"] != before["fp32"]  # a new file
    # checked again against sentence-transformers and timed again: the old figures are gone
    assert entry["check"]["max_cosine_distance"] < 1e-5 and entry["check"]["speedup"] != 99.0
    # the release, without a local build label (+cpu, +cu130): hosts with either build share the file
    assert entry["depends_on"]["versions"]["torch"] == release["torch"]
    assert entry["depends_on"]["versions"]["onnxruntime"] == release["onnxruntime"]
    assert file_sha256(artifact_dir / "encoders" / manifest_of(artifact_dir)[0].parent.name / entry["file"]) \
        == entry["sha256"]
    # the rebuilt entry is then reused
    again, warnings = ensure(artifact_dir, "fp32", caplog)
    assert warnings == [] and again == entry


def test_another_int8_recipe_requantises_without_a_format_bump(built, tmp_path, caplog, monkeypatch):
    def measured_bad(variants):
        variants["int8"]["check"]["mean_cosine_distance"] = 0.5

    artifact_dir, before = copy_with(built, tmp_path / "a", measured_bad)
    old_sha = manifest_of(built)[1]["variants"]["int8"]["sha256"]
    monkeypatch.setattr(onnx_export, "DEFAULT_INT8_RECIPE", "block8-128")
    entry, warnings = ensure(artifact_dir, "int8", caplog)
    [warning] = warnings
    assert "model-int8.onnx is stale" in warning and "recipe.block_size 32 → 128" in warning
    assert "recipe.name block8-32 → block8-128" in warning
    after = stamps(artifact_dir)
    assert after["int8"] != before["int8"] and after["fp32"] == before["fp32"]  # fp32 is kept
    assert entry["recipe"] == "block8-128" and entry["sha256"] != old_sha
    assert entry["check"]["mean_cosine_distance"] < 1e-2  # measured again


def test_an_entry_written_before_dependencies_were_recorded_is_not_trusted(built, tmp_path, caplog):
    def old_format(variants):  # what the earlier code wrote: versions, no depends_on
        entry = variants["int8"]
        entry["versions"] = {"torch": entry["depends_on"]["versions"]["torch"], "onnxruntime": "1.15.0"}
        del entry["depends_on"]

    artifact_dir, before = copy_with(built, tmp_path / "a", old_format)
    entry, warnings = ensure(artifact_dir, "int8", caplog)
    assert any("model-int8.onnx is stale" in w and "before its dependencies were recorded" in w for w in warnings)
    assert stamps(artifact_dir)["int8"] != before["int8"] and stamps(artifact_dir)["fp32"] == before["fp32"]
    assert entry["depends_on"]["fp32_sha256"] == manifest_of(artifact_dir)[1]["variants"]["fp32"]["sha256"]
