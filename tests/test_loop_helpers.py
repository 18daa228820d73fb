"""Shared builders for the loop tests (test_loop*, test_model_versions*, test_tasks*, test_worker*).

A synthetic project: items whose texts come from templates, and Embedding rows pre-filled with
clustered unit vectors (one cluster per label) so training, scoring and planning run for real
without loading the encoder. Holds no tests itself.
"""
from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

DIM = 384
WORDS = ["amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "harbor", "iris", "juniper",
         "kelp", "lumen", "maple", "nectar", "onyx", "pine", "quartz", "raven", "sage", "tundra"]


def _letters(i: int) -> str:
    out = ""
    while True:
        out = chr(ord("a") + i % 26) + out
        i //= 26
        if i == 0:
            return out


def unit(rng, n, dim=DIM):
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def label_text(label) -> str:
    # What waves.services embeds for a label (name, plus description when there is one).
    return f"{label.name}: {label.description}" if label.description else label.name


def build_project(project_factory, *, slug="loop", n_items=300, shares=(0.6, 0.3, 0.1), n_labeled=60,
                  seed=0, labels=("billing", "login", "fraud"), **project_fields):
    """A project with ``n_items`` embedded items (true label drawn by ``shares``) of which the
    first ``n_labeled`` carry an imported label. Returns (project, {item_id: true label name})."""
    from labeling.annotations.models import Annotation
    from labeling.items.models import Item
    from labeling.modeling.models import Embedding
    from learner.text import exact_text_hash, text_hash

    rng = np.random.default_rng(seed)
    project = project_factory(slug, labels=labels)
    for field, value in project_fields.items():
        setattr(project, field, value)
    project.save()
    label_objs = list(project.labels.order_by("order", "name"))
    by_name = {label.name: label for label in label_objs}
    sources = list(project.sources.all())
    centroids = unit(rng, len(labels))
    truth = rng.choice(len(labels), size=n_items, p=np.asarray(shares) / sum(shares))
    items, vectors = [], []
    for i in range(n_items):
        name = labels[truth[i]]
        text = f"{name} {WORDS[i % len(WORDS)]} request {_letters(i)}"
        items.append(Item(project=project, source=sources[i % len(sources)] if sources else None,
                          text=text, text_hash=text_hash(text)))
        vec = centroids[truth[i]] + 0.9 * unit(rng, 1)[0]
        vectors.append(vec / np.linalg.norm(vec))
    Item.objects.bulk_create(items)
    items = list(Item.objects.filter(project=project).order_by("id"))
    model_id = settings.LONGTAIL_MODEL_ID
    rows = [Embedding(model_id=model_id, text_hash=item.text_hash, vector=np.asarray(v, np.float32).tobytes())
            for item, v in zip(items, vectors, strict=True)]
    # The same vector under each text's exact key, which predict reads: with real encodings, a text's
    # own vector is its item's (the item is the only one of its exact-duplicate group here).
    rows += [Embedding(model_id=model_id, text_hash=exact_text_hash(item.text), vector=np.asarray(v, np.float32).tobytes())
             for item, v in zip(items, vectors, strict=True)]
    for label, vec in zip(label_objs, unit(rng, len(label_objs)), strict=True):
        rows.append(Embedding(model_id=model_id, text_hash=exact_text_hash(label_text(label)), vector=vec.tobytes()))
    Embedding.objects.bulk_create(rows, ignore_conflicts=True)
    truth_by_id = {item.id: labels[truth[i]] for i, item in enumerate(items)}
    # Labeled examples: make sure every label has a few, then fill in order.
    chosen: list = []
    for name in labels if n_labeled else ():
        chosen += [item for item in items if truth_by_id[item.id] == name][:4]
    chosen_ids = {item.id for item in chosen}
    chosen += [item for item in items if item.id not in chosen_ids][: max(0, n_labeled - len(chosen))]
    Annotation.objects.bulk_create([
        Annotation(project=project, item=item, label=by_name[truth_by_id[item.id]], origin=Annotation.IMPORT)
        for item in chosen
    ])
    return project, truth_by_id


def answer(project, item, label, user=None, *, skipped=False):
    """Store an answer the way the annotation pages do and send answer_saved."""
    from labeling.annotations.models import Annotation
    from labeling.annotations.signals import answer_saved

    Annotation.objects.create(project=project, item=item, label=None if skipped else label, annotator=user,
                              skipped=skipped)
    answer_saved.send(sender=Annotation, project=project, item=item)


@pytest.fixture
def eager_celery():
    """Run tasks in-process even where REDIS_URL configures a broker (the PostgreSQL CI run)."""
    from config.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def loop_project(db, project_factory, eager_celery):
    project, truth = build_project(project_factory)
    return project, truth


def retrain(project, capture, reason="manual"):
    """Run the whole retrain pipeline in-process (eager Celery) and return its finished TaskRun."""
    from labeling.loop.triggers import request_retrain

    with capture(execute=True):
        run = request_retrain(project, reason=reason)
    run.refresh_from_db()
    return run


# A few CPU steps on short, small batches (the test texts are a handful of words): each fine-tuning
# is 2 optimizer steps over 8 labeled + 8 unlabeled rows; two folds keep the out-of-fold comparison.
TINY_FINETUNE = {"max_steps": 2, "batch_size": 8, "unlabeled_batch_size": 8, "max_seq_length": 16, "folds": 2,
                 "threads": 1}


@pytest.fixture
def tiny_finetune(settings, tmp_path):
    """Final models fine-tune for a few steps, their encoders under the test's own directory."""
    settings.LONGTAIL_FINETUNE = dict(TINY_FINETUNE)
    settings.LONGTAIL_ARTIFACT_DIR = tmp_path / "artifacts"


def noise_frozen_vectors(hashes, rng) -> None:
    """The frozen vectors of these texts replaced by noise: the frozen model can only guess, while
    the texts name their label, so a fine-tuned encoder wins out of fold and is served."""
    from labeling.modeling.embedding_store import clear_memos
    from labeling.modeling.models import Embedding

    for h in hashes:
        Embedding.objects.update_or_create(model_id=settings.LONGTAIL_MODEL_ID, text_hash=h,
                                           defaults={"vector": unit(rng, 1)[0].tobytes()})
    clear_memos()


def serve_final_model(project, capture, rng):
    """Noise for the frozen vectors, a retrain, then "Train final model" in-process: the final
    model's version, which must be served."""
    from labeling.items.models import Item
    from labeling.loop import triggers
    from labeling.modeling.models import ModelVersion, TaskRun
    from labeling.modeling.versions import active_model

    noise_frozen_vectors(Item.objects.filter(project=project).values_list("text_hash", flat=True), rng)
    retrain(project, capture)
    with capture(execute=True):
        run = triggers.request_final_model(project)
    run.refresh_from_db()
    assert run.state == TaskRun.DONE and run.detail["served"] is True, run.message
    version = active_model(project)
    assert version.pk == run.detail["model_version_id"] and version.state == ModelVersion.ACTIVE
    assert version.config["kind"] == "final"
    return version


@contextlib.contextmanager
def shared_db_state(django_db_blocker, artifact_dir: Path):
    """For a module-scoped fixture that builds an expensive set-up once (real retrains and the like)
    and lets every test of the module start from it: the building runs in an outer transaction,
    each test's own transaction (pytest-django's ``db``) is a savepoint inside it and rolls back to
    the built state, and the outer one rolls back when the module ends. Meanwhile
    LONGTAIL_ARTIFACT_DIR is ``artifact_dir`` and Celery runs eagerly. Yields a ``capture`` for
    ``retrain`` (TestCase.captureOnCommitCallbacks). Tests that change files under ``artifact_dir``
    restore them with ``restore_artifacts``."""
    from django.db import transaction
    from django.test import TestCase, override_settings

    from config.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    try:
        with django_db_blocker.unblock(), override_settings(LONGTAIL_ARTIFACT_DIR=artifact_dir), \
                transaction.atomic():
            yield TestCase.captureOnCommitCallbacks
            transaction.set_rollback(True)
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def snapshot_artifacts(artifact_dir: Path) -> Path:
    """A copy of the built set-up's files, beside them, for ``restore_artifacts``."""
    pristine = artifact_dir.with_name(artifact_dir.name + "-pristine")
    shutil.copytree(artifact_dir, pristine)
    return pristine


def restore_artifacts(artifact_dir: Path, pristine: Path) -> None:
    """The set-up's files as they were built (an earlier test of the module may have pruned them)."""
    shutil.rmtree(artifact_dir, ignore_errors=True)
    shutil.copytree(pristine, artifact_dir)


def make_project(slug="support", *, labels=("billing", "login", "fraud"), sources=("email", "chat")):
    """What conftest's ``project_factory`` makes, for module-scoped set-ups (which cannot use it)."""
    from labeling.projects.models import Label, Project, Source

    project = Project.objects.create(slug=slug, name=slug.title())
    for i, name in enumerate(labels):
        Label.objects.create(project=project, name=name, hotkey=str(i + 1), description=f"About {name}")
    for name in sources:
        Source.objects.create(project=project, name=name, quota=1.0 / len(sources))
    return project
