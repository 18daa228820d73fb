"""The model bundle: one trained model version of a project as a zip (head, temperature,
thresholds, label map, metrics, README and, for a final model, its fine-tuned encoder folder).

Any ready, active or retired version can be exported (a final model that was not served stays
ready, and exportable); without a version number the project's active model is. A final model
is only exported with its encoder: when the folder is not on this host the export is refused,
since the head on the stock encoder's vectors would mispredict without any error. The folder and
a head stored as a file are looked for where ``labeling.modeling.artifact_paths`` resolves them
(under LONGTAIL_ARTIFACT_DIR), and a refusal names that place.

A version trained on the 8-bit ONNX encoder (``LONGTAIL_ENCODER_BACKEND=onnx-int8``) says so
(``encoder_kind: frozen-int8``) and ships that encoder's file with the tokenizer it needs, when the
export cache holds it (``learner.encoders.onnx_export.cached_onnx_model``); without it the README
says how far the stock model's vectors are from the ones the head reads."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from django.conf import settings

from labeling.modeling.artifact_paths import encoder_exports_root, encoder_folder_path, head_file_path, pruned_message
from labeling.modeling.models import ModelVersion
from labeling.modeling.selectors import model_labels
from labeling.modeling.versions import active_model
from labeling.projects.models import Project
from learner.embedding import INT8_MODEL_ID_SUFFIX
from learner.encoders.onnx_backend import read_sentence_transformer_config
from learner.encoders.onnx_export import cached_onnx_model
from learner.training import TrainedClassifier

EXPORTABLE_STATES = (ModelVersion.READY, ModelVersion.ACTIVE, ModelVersion.RETIRED)
# What a sentence-transformers folder needs to load as it was saved (modules: pooling, normalising).
ENCODER_FILES = ("config.json", "modules.json")
ENCODER_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
BUNDLE_ENCODER = "encoder/"
# What a bundle says of how far its int8 encoder's vectors are from the stock model's (its build check).
DRIFT_KEYS = ("mean_cosine_distance", "max_cosine_distance")
# What OnnxSentenceEncoder reads beside the ONNX file (tokenizer and sentence-transformers settings);
# the pooling module's folder is added from modules.json.
INT8_TOKENIZER_FILES = ("modules.json", "sentence_bert_config.json", "tokenizer.json", "tokenizer_config.json",
                        "special_tokens_map.json", "config.json")


class ExportRefused(ValueError):
    """Why a model version cannot be exported, for people; ``status`` is the API's answer."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


def exportable_versions(project: Project):
    """The project's versions that can be exported, newest first (artifacts not loaded)."""
    return (ModelVersion.objects.filter(project=project, state__in=EXPORTABLE_STATES, pruned_at__isnull=True)
            .defer("artifact", "metrics").order_by("-number"))


def parse_version_number(raw) -> int | None:
    """A ``version`` request parameter: None when absent or empty, else a positive number in ASCII
    digits (``str.isdigit`` also takes "²", which ``int`` refuses, and "٣", which it reads as 3)."""
    if raw is None or str(raw).strip() == "":
        return None
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or int(text) < 1:
        raise ExportRefused(f"version must be a model version number (1, 2, …), not {text[:40]!r}.", 400)
    return int(text)


def version_to_export(project: Project, number: int | None) -> ModelVersion:
    """The version numbered ``number`` (ready, active or retired), else the active model."""
    if number is None:
        version = active_model(project)
        if version is None:
            raise ExportRefused("This project has no active model to export yet.")
        return version
    version = ModelVersion.objects.filter(project=project, number=number).first()
    if version is None:
        raise ExportRefused(f"Project {project.slug} has no model version {number}.", 404)
    if version.state not in EXPORTABLE_STATES:
        raise ExportRefused(f"Model version {number} is {version.state}: only ready, active and retired versions "
                            f"can be exported.")
    pruned = pruned_message(version)
    if pruned:  # its head and files were removed (labeling.modeling.retention)
        raise ExportRefused(f"{pruned} Nothing was exported.", 410)
    return version


def encoder_folder(version: ModelVersion) -> Path | None:
    """A final model's fine-tuned encoder folder (None for a version on the frozen encoder).
    ExportRefused when the folder, or what loading it needs, is not on this host."""
    path = encoder_folder_path(version)
    if path is None:
        return None
    missing = [name for name in ENCODER_FILES if not (path / name).is_file()] if path.is_dir() else ["the folder"]
    if path.is_dir() and not any((path / name).is_file() for name in ENCODER_WEIGHTS):
        missing.append(" or ".join(ENCODER_WEIGHTS))
    if missing:
        # the place looked at now; and an absolute path its training recorded elsewhere (a version
        # stored before paths were relative, its folder not restored where the app builds it)
        configured = Path(version.config["encoder_dir"])
        recorded = f" (recorded at training as {configured})" if configured.is_absolute() and configured != path else ""
        raise ExportRefused(
            f"Model version {version.number} is a final model, but its fine-tuned encoder folder {path}{recorded} is "
            f"not complete on this host (missing: {', '.join(missing)}). Nothing was exported: its head reads that "
            f"encoder's vectors, and with the stock {base_encoder_id(version)} it would predict wrongly. Export "
            f"it where LONGTAIL_ARTIFACT_DIR holds the folder, or restore the folder there.")
    return path


def base_encoder_id(version: ModelVersion) -> str:
    """The encoder a version's head was trained on, or a final model fine-tuned from (the id its
    training recorded; the setting only for a version stored before it was recorded)."""
    recorded = (version.config or {}).get("embedding_model") or settings.LONGTAIL_MODEL_ID
    return recorded.removesuffix(INT8_MODEL_ID_SUFFIX)


def int8_trained(version: ModelVersion) -> bool:
    """True for a version whose head reads the 8-bit ONNX encoder's vectors (a retrain run with
    LONGTAIL_ENCODER_BACKEND=onnx-int8); a final model reads its fine-tuned encoder's instead."""
    config = version.config or {}
    return not config.get("encoder_dir") and str(config.get("embedding_model") or "").endswith(INT8_MODEL_ID_SUFFIX)


def int8_encoder_files() -> tuple[dict[str, Path], dict] | None:
    """(name in the bundle → file, how the file was made: its quantisation recipe and build-time
    cosine distances to torch fp32) of the int8 encoder this server runs, or None when its export
    cache does not hold a current one."""
    found = cached_onnx_model(settings.LONGTAIL_MODEL_PATH, encoder_exports_root(), "int8")
    if found is None:
        return None
    onnx_file, entry = found
    model = Path(settings.LONGTAIL_MODEL_PATH)
    read_sentence_transformer_config(model)  # the server loads it the same way: refuse what it would
    modules = json.loads((model / "modules.json").read_text(encoding="utf-8"))
    wanted = [model / name for name in INT8_TOKENIZER_FILES if (model / name).is_file()]
    wanted += [p for m in modules if m.get("path") for p in sorted((model / m["path"]).rglob("*")) if p.is_file()]
    files = {f"{BUNDLE_ENCODER}{path.relative_to(model).as_posix()}": path for path in wanted}
    files[f"{BUNDLE_ENCODER}{INT8_FILE}"] = onnx_file
    check = entry.get("check") or {}
    return files, {"recipe": entry.get("recipe"), **{key: check.get(key) for key in DRIFT_KEYS}}


def model_artifact_bytes(version) -> bytes | None:
    if version.artifact:
        return bytes(version.artifact)
    path = head_file_path(version)
    if path is not None and path.is_file():
        return path.read_bytes()
    return None


MODEL_README = """# Longtail model bundle — project {slug}, model version {number} ({state})

Files
- `head.bin` — the trained classifier head (`learner.training.TrainedClassifier.to_bytes()`).
- `model.json` — temperature, per-label thresholds, label map (column order of the probabilities),
  class weights, training-set size, training config and the sentence encoder it expects.
  `label_map` names each column by its label's name in the project now (null: the label was
  deleted since training), `label_ids` gives the project's label id of each column, and
  `trained_label_map` the names the head learned: `head.bin`'s `classes_` and `decide` answers,
  `thresholds`, `class_weights` and `metrics.json` use those. They differ only where a label was
  renamed after this version trained. `hierarchy` (null for a flat head) gives a coarse → fine head's
  `parents` (fine label → coarse label), `fine_floor` (below this P(fine | coarse) the row falls
  back to its coarse label) and `coarse_thresholds` (the thresholds a fallback row is held to), all
  under the names the head learned, and `coarse_labels`: each such coarse label's project id and
  name now (null: deleted since).
- `metrics.json` — the validation report (per-class precision / recall / F1, confusion matrix,
  calibration, thresholds table).
{files}
The head works on sentence embeddings: {encoder} (L2-normalised, 384 floats per text).

Load and use (inside a Longtail checkout or with its `learner` package importable):

```python
{load}
from learner.training import TrainedClassifier

head = TrainedClassifier.from_bytes(open("head.bin", "rb").read())
X = encoder.encode(["my card was charged twice"]{encode_options})
for decision in head.decide(X):
    print(decision)   # {{"label", "coarse_label", "prob", "needs_review", "fallback"}}
```

`predict_proba(X)` gives calibrated probabilities (temperature already applied) in the order of
`model.json`'s `label_map`. A prediction whose probability is below its label's threshold has
`needs_review: true`: send it to a person. `fallback: true` means the fine label was too unsure and
only the coarse label is given.
"""

ST_IMPORT = "from sentence_transformers import SentenceTransformer\n"
ST_OPTIONS = ", normalize_embeddings=True"
FROZEN_LOAD = ST_IMPORT + 'encoder = SentenceTransformer("/path/to/{model}")   # a local copy; no download needed'
FINAL_LOAD = (ST_IMPORT + 'encoder = SentenceTransformer("encoder", local_files_only=True)   # the unzipped bundle\'s folder\n'
              '# never the stock {model}: this head reads the fine-tuned encoder\'s vectors')
INT8_FILE = "model-int8.onnx"
# The server's int8 encoder is this class on this file (learner.embedding, backend "onnx-int8").
INT8_LOAD = ("from learner.encoders.onnx_backend import OnnxSentenceEncoder   # needs onnxruntime and tokenizers\n"
             f'encoder = OnnxSentenceEncoder("{BUNDLE_ENCODER}{INT8_FILE}", "{BUNDLE_ENCODER}")   # the unzipped bundle\'s '
             "files; unit-length rows\n# never the stock {model} on torch: this head reads the 8-bit encoder's vectors")
INT8_FILES = """- `encoder/` — the 8-bit ONNX encoder this head was trained on ({model} quantised, recipe {recipe}:
  the server's `LONGTAIL_ENCODER_BACKEND=onnx-int8`) with its tokenizer files. Load it as below to get
  the server's vectors; the stock {model} is {distance} cosine distance from them on average, enough
  to move probabilities a little (a label near its threshold can change).
"""
INT8_MISSING = """- No encoder file: this head was trained on {model}'s 8-bit ONNX vectors (the server's
  `LONGTAIL_ENCODER_BACKEND=onnx-int8`), and the exporting server's cache did not hold that file.
  The stock {model} below gives vectors about 1.5e-4 cosine distance from those on average
  (docs/encoder.md, bench/results/encode.json), which moves probabilities a little (a label near its
  threshold can change). Export again where the encoder export cache (LONGTAIL_ENCODER_CACHE_ROOT, else LONGTAIL_ARTIFACT_DIR) holds the int8 file.
"""
FINAL_FILES = """- `encoder/` — this final model's fine-tuned encoder (a sentence-transformers folder, fine-tuned
  from {model}). Use it, not the stock model: the head was trained on its embeddings.
"""


def taxonomy_of(head: bytes, known: dict) -> dict:
    """The coarse → fine decision the head makes (``decide``): each fine label's coarse parent, the
    fallback floor and the coarse labels' thresholds, under the names it learned, and each coarse
    label's id and name now (``known``: ModelLabels.known); flat heads have none. ``thresholds``
    holds the fine labels' only, so without these a reader could not tell when a row falls back."""
    classifier = TrainedClassifier.from_bytes(head)
    if not classifier.parents:
        return {"hierarchy": None}
    coarse = sorted(set(classifier.parents.values()))
    return {"hierarchy": {"parents": classifier.parents, "fine_floor": classifier.fine_floor,
                          "coarse_thresholds": classifier.coarse_thresholds,
                          "coarse_labels": {name: dict(zip(("id", "name"), known.get(name, (None, None)), strict=True))
                                            for name in coarse}}}


def model_bundle(project: Project, version: ModelVersion) -> bytes:
    """The zip bundle of a model version. ValueError (ExportRefused) when the version has no stored
    artifact, or is a final model whose encoder folder is not on this host."""
    head = model_artifact_bytes(version)
    if head is None and version.artifact_path:
        raise ExportRefused(f"Model version {version.number}'s head file {head_file_path(version)} is not on this "
                            "host. Export it where LONGTAIL_ARTIFACT_DIR holds the file, or restore the file there.")
    if head is None:
        raise ExportRefused(f"Model version {version.number} has no stored artifact to export.")
    encoder_dir = encoder_folder(version)
    columns = model_labels(version)
    # The encoder the version trained on, as it recorded it: the setting may name another since.
    base = base_encoder_id(version)
    encoder = ({"encoder": BUNDLE_ENCODER, "encoder_kind": "fine-tuned", "base_encoder": base} if encoder_dir
               else {"encoder": base, "encoder_kind": "frozen"})
    int8 = int8_encoder_files() if int8_trained(version) else None
    if int8_trained(version):
        encoder = {"encoder": f"{BUNDLE_ENCODER}{INT8_FILE}" if int8 else base + INT8_MODEL_ID_SUFFIX,
                   "encoder_kind": "frozen-int8", "base_encoder": base, "encoder_backend": "onnx-int8",
                   "encoder_build": int8[1] if int8 else None}
    meta = {"project": project.slug, "version": version.number, "state": version.state, **encoder,
            "temperature": version.temperature, "thresholds": version.thresholds,
            # the columns by their labels' names and ids now; the head answers with the trained names
            "label_map": list(columns.names), "label_ids": list(columns.ids), "trained_label_map": list(columns.trained),
            **taxonomy_of(head, columns.known),
            "class_weights": version.class_weights, "train_size": version.train_size, "config": version.config,
            "created_at": version.created_at.isoformat()}
    readme = MODEL_README.format(
        slug=project.slug, number=version.number, state=version.state, **readme_encoder(version, base, encoder_dir, int8))
    buffer = io.BytesIO()
    try:
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
            bundle.writestr("head.bin", head)
            bundle.writestr("model.json", json.dumps(meta, indent=2, default=str))
            bundle.writestr("metrics.json", json.dumps(version.metrics, indent=2, default=str))
            if encoder_dir:  # a final model: its fine-tuned encoder travels with the head
                for path in sorted(p for p in encoder_dir.rglob("*") if p.is_file()):
                    bundle.write(path, f"{BUNDLE_ENCODER}{path.relative_to(encoder_dir).as_posix()}")
            for name, path in (int8[0] if int8 else {}).items():  # the int8 encoder the head reads
                bundle.write(path, name)
            bundle.writestr("README.md", readme)
    except OSError as exc:
        raise ExportRefused(f"Model version {version.number} could not be read for export: {exc}") from exc
    return buffer.getvalue()


def readme_encoder(version: ModelVersion, base: str, encoder_dir: Path | None, int8) -> dict:
    """The README's encoder parts: extra files, what the head reads, how to load it."""
    if encoder_dir:
        return {"files": FINAL_FILES.format(model=base), "encode_options": ST_OPTIONS,
                "encoder": f"the fine-tuned encoder in `{BUNDLE_ENCODER}` (from {base})",
                "load": FINAL_LOAD.format(model=base)}
    if not int8_trained(version):
        return {"files": "", "encoder": base, "load": FROZEN_LOAD.format(model=base), "encode_options": ST_OPTIONS}
    if int8 is None:
        return {"files": INT8_MISSING.format(model=base), "encode_options": ST_OPTIONS,
                "encoder": f"{base} in 8-bit ONNX (int8), not shipped", "load": FROZEN_LOAD.format(model=base)}
    distance = int8[1].get("mean_cosine_distance")
    return {"files": INT8_FILES.format(model=base, recipe=int8[1].get("recipe"),
                                       distance="about 1.5e-4" if distance is None else f"{distance:.1e}"),
            "encoder": f"{base} in 8-bit ONNX (int8), `{BUNDLE_ENCODER}{INT8_FILE}`", "encode_options": "",
            "load": INT8_LOAD.format(model=base)}


def export_version(project: Project, number: int | None = None) -> tuple[ModelVersion, bytes]:
    """(version, zip bytes) of version ``number``, else of the active model; ExportRefused says why not."""
    version = version_to_export(project, number)
    return version, model_bundle(project, version)
