"""Shared builders for the project deletion tests (test_project_deletion_*): a project with
everything a project can hold, made through the app's own services, and a walk over every model
that finds the rows belonging to a project. Holds no tests itself."""
from __future__ import annotations

import uuid

import numpy as np
from django.apps import apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from tests import test_loop_helpers as loop

# Unique texts (no other project has them) and one row the importer rejects (no text).
IMPORT_CSV = (b"text,source,external_id\n"
              b"Refund for order 88121 never arrived,email,X1\n"
              b"Chargeback notice on invoice 7731,chat,X2\n"
              b",email,X3\n")
FINE_LABELS = {"refund": "Money back for an order", "chargeback": "A bank reversed a payment"}


def owned_rows(project_id: int) -> dict:
    """model → pks of every row that belongs to the project: the project row, then every row of
    any installed model with a foreign key to a row already found, until nothing new turns up.
    Users are not reached (nothing of a project is their parent), so they count as not its."""
    from labeling.projects.models import Project

    owned = {Project: {project_id}}
    relations = [(model, field) for model in apps.get_models() for field in model._meta.concrete_fields
                 if field.is_relation and (field.many_to_one or field.one_to_one)]
    grew = True
    while grew:
        grew = False
        for model, field in relations:
            parents = owned.get(field.related_model)
            if not parents:
                continue
            found = set(model._base_manager.filter(**{f"{field.attname}__in": list(parents)})
                        .values_list("pk", flat=True))
            if found - owned.get(model, set()):
                owned.setdefault(model, set()).update(found)
                grew = True
    return owned


def remaining(owned: dict) -> dict:
    """Of the rows found by owned_rows, those still in the database, by model name."""
    left = {}
    for model, pks in owned.items():
        count = model._base_manager.filter(pk__in=list(pks)).count()
        if count:
            left[model.__name__] = count
    return left


def add_vectors(hashes, seed: int) -> None:
    """Cached vectors for texts the test made (the encoder is not loaded in these tests), as
    test_loop_helpers.build_project has them for its items."""
    from labeling.modeling.models import Embedding

    rng = np.random.default_rng(seed)
    Embedding.objects.bulk_create([Embedding(model_id=settings.LONGTAIL_MODEL_ID, text_hash=h,
                                             vector=loop.unit(rng, 1)[0].tobytes()) for h in hashes],
                                  ignore_conflicts=True)


def import_with_rejects(project, user):
    """An upload imported with --skip-invalid the way the upload page queues it: the stored upload
    goes, the rejects file stays in MEDIA_ROOT/imports/<slug>/."""
    from labeling.items.services import rejects_path_for, save_upload
    from labeling.loop.tasks import import_file

    batch, path = save_upload(project, SimpleUploadedFile("tickets.csv", IMPORT_CSV, content_type="text/csv"), user)
    rejects = rejects_path_for(batch)
    import_file(batch.id, str(path), skip_invalid=True, rejects_path=str(rejects))
    batch.refresh_from_db()
    assert batch.rows_imported == 2 and batch.rows_rejected == 1 and rejects.is_file(), batch.errors
    return batch, rejects


def full_project(project_factory, make_user, capture, monkeypatch, *, slug: str):
    """A project with two label levels, items (built and imported, with LSH rows), a rejects file,
    a trained model stored as a file under LONGTAIL_ARTIFACT_DIR/<slug>/, its scores, a task run,
    an open wave with leased and answered picks, review tasks, a rule and members."""
    from labeling.annotations.leasing import lease_batch
    from labeling.annotations.services import submit_answer
    from labeling.items.bulk import send_to_review
    from labeling.items.models import Item
    from labeling.modeling import versions
    from labeling.projects.models import Label, Membership, Rule
    from learner.text import exact_text_hash

    project, _ = loop.build_project(project_factory, slug=slug, n_items=120, n_labeled=40)
    lead, annotator = make_user(f"{slug}-lead"), make_user(f"{slug}-ann")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    Membership.objects.create(user=annotator, project=project, role=Membership.ANNOTATOR)
    import_with_rejects(project, lead)
    add_vectors(Item.objects.filter(project=project, import_batch__isnull=False).values_list("text_hash", flat=True),
                seed=7)
    # Any model goes to a file (as one over 32 MB would), so the project has an artifact folder.
    monkeypatch.setattr(versions, "ARTIFACT_DB_MAX_BYTES", 0)
    run = loop.retrain(project, capture)
    assert run.state == "done", run.message
    billing = Label.objects.get(project=project, name="billing")
    fine = {name: Label.objects.create(project=project, name=name, description=description, parent=billing)
            for name, description in FINE_LABELS.items()}
    # The planner's label vectors of the fine labels, as the next plan would cache them.
    add_vectors([exact_text_hash(f"{name}: {description}") for name, description in FINE_LABELS.items()], seed=8)
    Rule.objects.create(project=project, label=fine["refund"], pattern="refund")
    batch = lease_batch(project, annotator, size=4).assignments
    assert len(batch) == 4
    submit_answer(project, annotator, client_id=uuid.uuid4(), assignment_id=batch[0].pk, label_id=fine["refund"].pk)
    submit_answer(project, annotator, client_id=uuid.uuid4(), assignment_id=batch[1].pk, skipped=True,
                  skip_reason="unreadable")
    send_to_review(project, [batch[2].wave_item.item_id], lead)
    return project
