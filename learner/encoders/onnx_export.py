"""Export a sentence-transformers model folder to ONNX locally and keep the result on disk.

``ensure_onnx_model(model_path, artifact_dir, variant)`` returns the path of a checked ONNX file,
building it on first use (torch legacy exporter → ONNX Runtime's BERT fusions → optional int8) under
``<artifact_dir>/encoders/<model files hash>-v<EXPORT_FORMAT>/``. Nothing is downloaded: the only
input is the model folder. Each build is checked against sentence-transformers on torch fp32
(``check.CHECK_TEXTS``) and timed side by side; ``manifest.json`` records the file's sha256, the
check and the timing, so a later process loads without touching torch. Each entry also records what
the file depends on besides the model folder (``export_dependencies``: export format, opset, the
torch / transformers / onnx / onnxruntime / sentence-transformers / tokenizers versions, the int8
recipe with its options and the fp32 file it was quantised from); an entry whose record differs from
the running environment's, or has none, is never reused: it is rebuilt and re-checked, with a
warning naming what changed, as is a file whose sha256 no longer matches (or an unreadable
manifest). Builds are serialised by a lock file, files are written to a temporary name and renamed
into place.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import inspect
import json
import logging
import os
import re
import time
from pathlib import Path

import numpy as np

from .check import CHECK_TEXTS, distance_summary, speed_texts
from .onnx_backend import OnnxSentenceEncoder, read_sentence_transformer_config

log = logging.getLogger(__name__)

EXPORT_FORMAT = 1  # bump when the export code changes: older cache folders are then ignored (package
# versions, the int8 recipe and its options are recorded per entry and compared on load: no bump needed)
VARIANTS = ("fp32", "int8")
OPSET = 17
FFN_IN = r"/intermediate/dense/MatMul$"
# How the fp32 graph becomes int8. Measured against each other in bench/encode_bench.py; the product
# uses DEFAULT_INT8_RECIPE. "dynamic-*" quantise activations per tensor at run time (MatMulInteger);
# "block8-*" store 8-bit weights per block of 32/128 input rows and let the kernel quantise
# activations per block too (MatMulNBits, accuracy level 4).
INT8_RECIPES = {
    "dynamic-per-tensor": {"kind": "dynamic", "per_channel": False},
    "dynamic-per-channel": {"kind": "dynamic", "per_channel": True},
    "dynamic-ffn-in-per-channel": {"kind": "dynamic", "per_channel": True, "nodes": FFN_IN},
    "block8-32": {"kind": "nbits", "block_size": 32},
    "block8-128": {"kind": "nbits", "block_size": 128},
}
DEFAULT_INT8_RECIPE = "block8-32"
# The quantiser's settings that every recipe of a kind shares (recorded with the recipe).
KIND_OPTIONS = {"dynamic": {"weight_type": "QInt8"}, "nbits": {"bits": 8, "is_symmetric": True, "accuracy_level": 4}}
# Packages whose version the export, its quantisation, the runtime or the build-time check depends on.
DEPENDENCIES = ("torch", "transformers", "onnx", "onnxruntime", "sentence-transformers", "tokenizers")


def model_files_hash(model_path: str | Path) -> str:
    """sha256 over every file of the model folder (relative path and bytes), in path order."""
    root = Path(model_path)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_dir_for(model_hash: str, artifact_dir: str | Path) -> Path:
    return Path(artifact_dir) / "encoders" / f"{model_hash[:16]}-v{EXPORT_FORMAT}"


@contextlib.contextmanager
def _locked(directory: Path):
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # another worker exporting the same model waits, then reuses
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _versions() -> dict[str, str | None]:
    """Installed versions of DEPENDENCIES, from package metadata: nothing is imported (a process
    that loads a cached file never imports torch). onnxruntime may be installed under another
    distribution name (onnxruntime-gpu, ...); it is imported to run the file anyway."""
    versions: dict[str, str | None] = {}
    for name in DEPENDENCIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    if versions["onnxruntime"] is None:
        with contextlib.suppress(ImportError):
            import onnxruntime  # only when its distribution has another name

            versions["onnxruntime"] = onnxruntime.__version__
    # The release, not the build: torch 2.13.0+cpu on one worker and 2.13.0+cu130 on the GPU worker
    # export the same file, and two hosts sharing the artifact directory must not rebuild it in turn.
    return {name: None if v is None else v.split("+", 1)[0] for name, v in versions.items()}


def export_dependencies(variant: str, fp32_sha256: str | None = None) -> dict:
    """What a ``variant`` file depends on besides the model folder, as its manifest entry records
    it: export format, opset and package versions; for int8 also the recipe with its options and
    the sha256 of the fp32 file it is quantised from. A cached entry is reused only when this is
    equal to the record."""
    depends = {"format": EXPORT_FORMAT, "opset": OPSET, "versions": _versions()}
    if variant == "int8":
        spec = INT8_RECIPES[DEFAULT_INT8_RECIPE]
        depends.update(recipe={"name": DEFAULT_INT8_RECIPE, **spec, **KIND_OPTIONS[spec["kind"]]},
                       fp32_sha256=fp32_sha256)
    return depends


def _changes(recorded: dict | None, current: dict) -> str | None:
    """None when equal, else a short account of what differs ("torch 2.3.0 → 2.4.0, ...")."""
    if recorded == current:
        return None
    if not isinstance(recorded, dict):
        return "it was built before its dependencies were recorded"

    def flat(d, prefix=""):
        out = {}
        for k, v in d.items():
            out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
        return out

    old, new = flat(recorded), flat(current)
    diffs = [f"{k.removeprefix('versions.')} {old.get(k)} → {new.get(k)}" for k in sorted(set(old) | set(new))
             if old.get(k) != new.get(k)]
    return "its dependencies changed: " + ", ".join(diffs)


def export_fp32(model_path: str | Path, out_file: Path) -> None:
    """torch → ONNX (dynamic batch and sequence axes), then ONNX Runtime's BERT fusions
    (attention, skip layer-norm, bias-GELU). Eager attention is exported because the fusion does
    not recognise the SDPA graph."""
    import torch  # heavy: only needed to build the file
    from onnxruntime.transformers import optimizer  # heavy (onnx): only needed to build the file
    from transformers import AutoConfig, AutoModel  # heavy: only needed to build the file

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is a local folder; never ask a hub
    config = AutoConfig.from_pretrained(str(model_path), local_files_only=True)
    model = AutoModel.from_pretrained(str(model_path), attn_implementation="eager", local_files_only=True).eval()
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in inspect.signature(model.forward).parameters:
        names.append("token_type_ids")

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            return self.inner(**dict(zip(names, inputs, strict=True))).last_hidden_state

    example = tuple(torch.ones(2, 8, dtype=torch.long) if n != "token_type_ids" else torch.zeros(2, 8, dtype=torch.long)
                    for n in names)
    raw = out_file.with_name(out_file.name + ".raw.tmp")
    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]}
    with torch.no_grad():
        # The TorchScript exporter: the dynamo one takes ~10x longer here and its graph is not fused.
        torch.onnx.export(LastHiddenState(model), example, str(raw), input_names=names,
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=OPSET,
                          dynamo=False)
    heads = getattr(config, "num_attention_heads", 0)
    hidden = getattr(config, "hidden_size", 0)
    fused = optimizer.optimize_model(str(raw), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=1)
    tmp = out_file.with_name(out_file.name + ".tmp")
    fused.save_model_to_file(str(tmp))
    raw.unlink()
    os.replace(tmp, out_file)


def quantize_int8(fp32_file: Path, out_file: Path, recipe: str = DEFAULT_INT8_RECIPE) -> None:
    """Quantise an fp32 export with one of INT8_RECIPES."""
    import onnx  # heavy: only needed to build the file
    from onnxruntime.quantization import QuantType, quantize_dynamic  # heavy: only needed to build the file

    spec = INT8_RECIPES[recipe]
    tmp = out_file.with_name(out_file.name + ".tmp")
    if spec["kind"] == "dynamic":
        nodes = None
        if "nodes" in spec:
            nodes = [n.name for n in onnx.load(str(fp32_file)).graph.node if re.search(spec["nodes"], n.name)]
        weight_type = getattr(QuantType, KIND_OPTIONS["dynamic"]["weight_type"])
        quantize_dynamic(str(fp32_file), str(tmp), weight_type=weight_type, per_channel=spec["per_channel"],
                         nodes_to_quantize=nodes,
                         # the fused ops (Attention, SkipLayerNormalization) defeat shape inference
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    else:
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer  # heavy (onnx_ir): build only

        quantizer = MatMulNBitsQuantizer(onnx.load(str(fp32_file)), block_size=spec["block_size"],
                                         **KIND_OPTIONS["nbits"])
        quantizer.process()
        quantizer.model.save_model_to_file(str(tmp), False)
    os.replace(tmp, out_file)


def measure_against_torch(onnx_file: Path, model_path: str | Path, threads: int | None = None,
                          rounds: int = 3) -> dict:
    """Cosine distance to sentence-transformers fp32 on CHECK_TEXTS, and texts/s of both on
    ``speed_texts()`` in interleaved rounds (median; ratio = ONNX / torch)."""
    import torch  # heavy: the reference runs on it, only while building
    from sentence_transformers import SentenceTransformer  # heavy: the reference, only while building

    if threads:
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
    try:
        reference = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
        runtime = OnnxSentenceEncoder(onnx_file, model_path, threads=threads)

        def torch_encode(texts):
            return reference.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                                    show_progress_bar=False)

        check = distance_summary(torch_encode(CHECK_TEXTS), runtime.encode(CHECK_TEXTS))
        texts = speed_texts()
        seconds: dict[str, list[float]] = {"torch": [], "onnx": []}
        for _ in range(rounds):
            for name, encode in (("torch", torch_encode), ("onnx", runtime.encode)):
                start = time.perf_counter()
                encode(texts)
                seconds[name].append(time.perf_counter() - start)
    finally:
        if threads:
            torch.set_num_threads(previous_threads)
    medians = {k: float(np.median(v)) for k, v in seconds.items()}
    return {**check, "speed_texts": len(texts), "torch_texts_per_s": len(texts) / medians["torch"],
            "onnx_texts_per_s": len(texts) / medians["onnx"], "speedup": medians["torch"] / medians["onnx"]}


def _read_manifest(directory: Path) -> dict:
    path = directory / "manifest.json"
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest.get("variants"), dict):
            raise ValueError("no 'variants' object")
        return manifest
    except (OSError, ValueError) as exc:
        log.warning("encoder cache %s is unreadable (%s); rebuilding it", path, exc)
        return {}


def _write_manifest(directory: Path, manifest: dict) -> None:
    tmp = directory / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, directory / "manifest.json")


def _valid_entry(directory: Path, entry: dict | None, depends: dict) -> str | None:
    """None when the entry's file is present and intact and was built with ``depends``, else why not."""
    if not entry:
        return "not built yet"
    path = directory / entry.get("file", "")
    if not path.is_file():
        return f"{path} is missing"
    changed = _changes(entry.get("depends_on"), depends)
    if changed:
        return f"{path} is stale ({changed})"
    if file_sha256(path) != entry.get("sha256"):
        return f"{path} is corrupt (sha256 differs from manifest.json)"
    return None


def _build(model_path: str | Path, directory: Path, variant: str, threads: int | None, speed_rounds: int,
           depends: dict) -> dict:
    started = time.perf_counter()
    target = directory / f"model-{variant}.onnx"
    if variant == "fp32":
        export_fp32(model_path, target)
    else:
        quantize_int8(directory / "model-fp32.onnx", target, DEFAULT_INT8_RECIPE)
    return {"file": target.name, "sha256": file_sha256(target), "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(time.perf_counter() - started, 2), "model_path": str(model_path),
            "recipe": DEFAULT_INT8_RECIPE if variant == "int8" else None, "depends_on": depends,
            "check": measure_against_torch(target, model_path, threads=threads, rounds=speed_rounds)}


def ensure_onnx_model(model_path: str | Path, artifact_dir: str | Path, variant: str = "fp32",
                      threads: int | None = None, speed_rounds: int = 3) -> tuple[Path, dict]:
    """(path of the checked ONNX file, its manifest entry), exporting it first if needed
    (int8 is quantised from the fp32 file, which is built too when absent). ``speed_rounds``:
    interleaved rounds of the build-time timing against torch (median kept)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown ONNX variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    read_sentence_transformer_config(model_path)  # refuse unsupported models before any work
    model_hash = model_files_hash(model_path)
    directory = cache_dir_for(model_hash, artifact_dir)
    with _locked(directory):
        manifest = _read_manifest(directory)
        entries = manifest.get("variants", {}) if manifest.get("model_files_sha256") == model_hash else {}
        needed = ["fp32"] if variant == "fp32" else ["fp32", "int8"]
        changed = False
        for name in needed:
            depends = export_dependencies(name, entries["fp32"]["sha256"] if name == "int8" else None)
            problem = _valid_entry(directory, entries.get(name), depends)
            if problem is None:
                continue
            if problem == "not built yet":
                log.info("exporting %s to ONNX (%s) under %s", model_path, name, directory)
            else:
                log.warning("ONNX encoder cache: %s; rebuilding it", problem)
            entries[name] = _build(model_path, directory, name, threads, speed_rounds, depends)
            log.info("ONNX %s export of %s built: %s", name, model_path, entries[name]["check"])
            changed = True
        if changed:
            _write_manifest(directory, {"format": EXPORT_FORMAT, "model_files_sha256": model_hash, "variants": entries})
        return directory / entries[variant]["file"], entries[variant]


def cached_onnx_model(model_path: str | Path, artifact_dir: str | Path, variant: str = "int8") -> tuple[Path, dict] | None:
    """(path, manifest entry) of the ``variant`` file ``ensure_onnx_model`` would load now (present,
    intact, built with the running packages), without building anything; None when there is none
    (what reads it, such as a model export, then says so instead of waiting minutes for a build)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown ONNX variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    model_hash = model_files_hash(model_path)
    directory = cache_dir_for(model_hash, artifact_dir)
    manifest = _read_manifest(directory)
    entries = manifest.get("variants", {}) if manifest.get("model_files_sha256") == model_hash else {}
    for name in ["fp32"] if variant == "fp32" else ["fp32", "int8"]:
        fp32_sha256 = (entries.get("fp32") or {}).get("sha256") if name == "int8" else None
        if _valid_entry(directory, entries.get(name), export_dependencies(name, fp32_sha256)) is not None:
            return None
    return directory / entries[variant]["file"], entries[variant]
