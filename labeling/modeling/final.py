"""The final model of a project: the encoder fine-tuned on the labels (``learner.finetune``), a
head, calibration and thresholds on its embeddings, stored as a model version whose encoder folder
lives under ``LONGTAIL_ARTIFACT_DIR/<project>/final-v<N>/`` (its path stored relative to
``LONGTAIL_ARTIFACT_DIR`` and resolved when read: ``artifact_paths``).

It becomes the served (active) model only when its cross-fitted out-of-fold macro-F1 beats the
frozen encoder's on the same folds: the pool is then embedded with the fine-tuned encoder (its own
key in the embeddings table, ``<encoder id>+ft-<project>-v<N>-<version id>``: a project deleted
and made again under its slug never meets its predecessor's vectors), scored under the version
and the version activated. Otherwise it stays READY (exportable) and the frozen model keeps serving.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import asdict
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction

from labeling.items.models import Item
from labeling.projects.models import Project
from learner.embedding import embed_texts
from learner.finetune import FinetuneConfig
from learner.finetune.contrastive import encode, load_encoder
from learner.finetune.final import ENCODER_DIR, train_final_model
from learner.jsonable import to_jsonable
from learner.training import TrainConfig
from learner.training.config import prior_possible
from learner.training.taxonomy import restrict_taxonomy

from . import selectors
from .artifact_paths import encoder_folder_path, final_model_folder, pruned_message, stored_form
from .embedding import embed_items, embed_query_texts, model_id, unembedded_item_ids
from .embedding_store import ProjectEmbeddingCache, vectors_for_items
from .models import ModelVersion
from .version_encoder import EncoderFolderMissing, RecordedFrozenEncoder, recorded_encoder_id
from .versions import (
    MIN_TRAIN_EXAMPLES,
    NotEnoughLabels,
    VersionDeleted,
    _start_version,
    discard_failed_version_folder,
    fail_training_version,
    finish_version,
    labels_digest,
    project_train_options,
    unlabeled_items,
    unlabeled_sample_rows,
)


def finetune_config(overrides: dict | None = None) -> FinetuneConfig:
    """Defaults, then ``settings.LONGTAIL_FINETUNE`` (a dict of FinetuneConfig fields), then ``overrides``."""
    return FinetuneConfig.from_dict({**getattr(settings, "LONGTAIL_FINETUNE", {}), **(overrides or {})})


def version_encoder_id(version: ModelVersion) -> str:
    """The embeddings-table key of the vectors a version's head reads: its fine-tuned encoder's,
    else the frozen encoder's it trained on (``version_encoder.recorded_encoder_id``), whatever
    the encoder setting is now."""
    return recorded_encoder_id(version)


def train_final_version(project: Project, *, run_id: int | None = None, overrides: dict | None = None,
                        on_progress=None) -> ModelVersion:
    """Fine-tune and train the final model on the project's labels; the version is left READY with
    the report (``metrics["final_model"]``: both out-of-fold macro-F1s and ``beats_frozen``). When
    it fails instead, also late (VersionAbandoned), the version's folder it saved is removed again."""
    data = selectors.training_set(project)
    # read once, before the (minutes-long) fine-tune: what it learns and what it records as learned
    # (labels_digest, which decides whether later retrains keep it serving)
    read = selectors.label_settings(project)
    if len(set(data.labels)) < 2 or len(data) < MIN_TRAIN_EXAMPLES:
        raise NotEnoughLabels(f"{len(data)} labeled item(s) over {len(set(data.labels))} label(s): the final model "
                              f"needs at least {MIN_TRAIN_EXAMPLES} items over two labels.")
    embed_labeled_items(project, data.item_ids)
    version = _start_version(project, run_id)
    if version.state in (ModelVersion.READY, ModelVersion.ACTIVE, ModelVersion.RETIRED):
        return version  # already trained by an earlier delivery of this task
    directory = final_model_folder(project.slug, version.number)
    saving = False
    try:
        started = time.perf_counter()
        config = TrainConfig.from_dict(project_train_options(project))
        ft_config = finetune_config(overrides)
        parents, targets = restrict_taxonomy(read.parents, read.targets, set(data.labels))
        # Items nobody labeled (outside the labeled items' duplicate groups; a seeded sample of at
        # most max_unlabeled): the distillation's unlabeled texts and the heads' self-training rows.
        unlabeled_ids, frozen_unlabeled, unlabeled_total = unlabeled_items(
            project, data.item_ids, seed=version.number,
            limit=min(ft_config.max_unlabeled, unlabeled_sample_rows()))
        texts = dict(Item.objects.filter(id__in=[*data.item_ids, *unlabeled_ids.tolist()]).values_list("id", "text"))
        final = train_final_model(
            [texts[i] for i in data.item_ids], data.labels, model_path=str(settings.LONGTAIL_MODEL_PATH),
            frozen=vectors_for_items(project.id, model_id(), data.item_ids), groups=np.asarray(data.groups),
            unlabeled=[texts[int(i)] for i in unlabeled_ids], frozen_unlabeled=frozen_unlabeled,
            parents=parents or None, targets=targets or None, train_config=config, config=ft_config,
            # the label-name prior as a retrain has it, each encoder embedding the label texts itself
            label_texts=read.texts if prior_possible(config) else None,
            unlabeled_total=unlabeled_total if len(unlabeled_ids) else None, on_progress=on_progress)
        with transaction.atomic():
            # The version's row held while its folder is written: delete_project locks the project's
            # versions before deleting them and removes the project's folder once it commits, so it
            # either waits for this save and then removes the folder with the rest, or ran first and
            # nothing is saved (a folder written after it would stay on disk for nothing).
            if ModelVersion.objects.select_for_update().filter(pk=version.pk).values_list("pk").first() is None:
                raise VersionDeleted(f"model version {version.number} no longer exists (its project was deleted?): "
                                     "its fine-tuned encoder is not saved")
            saving = True
            final.save(directory)
        clf = final.classifier
        return finish_version(version, clf, len(data), {
            "kind": "final", "labels_digest": labels_digest(project, data, read), "labels_read": read.record(),
            "train": to_jsonable(asdict(config)),
            "finetune": to_jsonable(asdict(ft_config)),
            # relative to LONGTAIL_ARTIFACT_DIR: a backup restored under another root still serves
            "embedding_model": model_id(), "encoder_dir": stored_form(directory / ENCODER_DIR),
            "encoder_model_id": f"{model_id()}+ft-{project.slug}-v{version.number}-{version.pk}",
            "seconds": round(time.perf_counter() - started, 3)}, label_ids=data.label_ids)
    except Exception as exc:
        fail_training_version(version, exc)
        if saving:  # a late result (VersionAbandoned) or a failure after the save: its files serve nothing
            discard_failed_version_folder(version, directory)
        raise


def embed_labeled_items(project: Project, labeled_ids, *, chunk: int | None = None) -> int:
    """Embed with the frozen encoder the labeled items that have no vector yet (labeled before the
    import's embedding run reached them), as a retrain embeds the pool first: the frozen model the
    final model is compared with, and its distillation teacher, read them. Returns how many."""
    labeled = set(labeled_ids)
    todo = [i for i in unembedded_item_ids(project) if i in labeled]
    chunk = int(chunk or settings.LONGTAIL_EMBED_CHUNK)
    return sum(embed_items(todo[start:start + chunk]) for start in range(0, len(todo), chunk))


def beats_frozen(version: ModelVersion) -> bool:
    return bool(((version.metrics or {}).get("final_model") or {}).get("beats_frozen"))


def comparison_sentence(version: ModelVersion) -> str:
    """The out-of-fold comparison with the frozen model in words, with the fold-to-fold noise, so
    that a lead can tell a gain from a wobble."""
    oof = ((version.metrics or {}).get("final_model") or {}).get("oof_macro_f1") or {}
    if oof.get("fine_tuned") is None or oof.get("frozen") is None:
        return "no out-of-fold comparison with the frozen model (no folds)"
    text = (f"out-of-fold macro-F1 {oof['fine_tuned']:.4f} against {oof['frozen']:.4f} for the frozen model "
            f"over {oof.get('rows')} labels ({oof['fine_tuned'] - oof['frozen']:+.4f}")
    if oof.get("standard_error") is not None:
        text += f"; standard error over {len(oof.get('fold_differences') or [])} folds {oof['standard_error']:.4f}"
    return text + ")"


# Keyed by the version (its pk and encoder id), never by its folder: the folder's path is built from
# the slug and number only, so a project deleted and made again under its slug saves its final model
# v<N> where the deleted one's was, and a process that had loaded the old one would serve it on.
_ENCODERS: OrderedDict[tuple[int, str], object] = OrderedDict()
_ENCODERS_LOCK = threading.Lock()


class VersionEncoder:
    """The encoder whose vectors a version's head reads, behind the learner's encoder protocol
    (``model_id``: ``version_encoder_id``, ``encode``): a final model's fine-tuned encoder, memoised
    per process (two at most) by version, else the frozen backend the version trained on
    (``RecordedFrozenEncoder``: not always the setting's, which may have changed since). ``path``:
    the folder it loads from on this host."""

    def __init__(self, version: ModelVersion):
        self.model_id = version_encoder_id(version)
        self.key = (version.pk, self.model_id)
        self.number = version.number
        self.frozen = None if (version.config or {}).get("encoder_dir") else RecordedFrozenEncoder(version)
        self.path = self.frozen.path if self.frozen else str(encoder_folder_path(version))
        self.pruned = pruned_message(version)  # said instead of "restore the folder"

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.frozen is not None:
            return self.frozen.encode(texts)
        with _ENCODERS_LOCK:
            model = _ENCODERS.get(self.key)
        if model is None:
            if not Path(self.path).is_dir():
                raise EncoderFolderMissing(self.pruned or
                    f"model v{self.number} is a fine-tuned final model and its encoder folder {self.path} is not on "
                    "this host: run this where LONGTAIL_ARTIFACT_DIR holds it, or restore the folder there")
            model = load_encoder(self.path)
            with _ENCODERS_LOCK:
                _ENCODERS[self.key] = model
                while len(_ENCODERS) > 2:
                    _ENCODERS.popitem(last=False)
        return encode(model, list(texts))



def embed_pool_for(version: ModelVersion, *, chunk: int = 256, on_progress=None) -> int:
    """Embed every item of the version's project with its fine-tuned encoder (cached in the
    embeddings table under the version's encoder id); returns how many texts were encoded. Chunks
    encoded while the project was deleted store nothing (ProjectEmbeddingCache)."""
    encoder = VersionEncoder(version)
    cache = ProjectEmbeddingCache([version.project_id])
    rows = list(Item.objects.filter(project_id=version.project_id).order_by("id").values_list("text_hash", "text"))
    done = 0
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        missing = set(h for h, _ in part) - set(cache.get_many(encoder.model_id, [h for h, _ in part]))
        embed_texts([t for _, t in part], encoder, cache, hashes=[h for h, _ in part])
        done += len(missing)
        if on_progress:
            on_progress(min(1.0, (start + chunk) / len(rows)))
    return done


def query_vectors(version: ModelVersion, texts: list[str]) -> np.ndarray:
    """Vectors of arbitrary texts (a predict request) from the encoder the version's head reads,
    each text's own (under ``exact_text_hash``: an item's vector may be of an exact duplicate),
    through the embeddings table; the encoder is only loaded for texts not stored yet. The texts are
    the version's project's: recorded as its own (``record_uses``), so that its deletion removes
    their rows, and stored only while it exists (ProjectEmbeddingCache)."""
    encoder = VersionEncoder(version)
    # a fine-tuned key's rows go with its version, not with the project's recorded uses
    return embed_query_texts(texts, project_id=version.project_id, by=encoder, record=encoder.frozen is not None)
