"""Builders shared by the item browser tests (no tests here): a project with one planted item per
filter value, among noise items that match none of the planted conditions."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
from django.utils import timezone

from labeling.annotations.models import Annotation, ReviewTask
from labeling.items.models import Item
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.waves.models import Wave, WaveItem
from learner.text import text_hash

NOISE = ["printer jams again on floor three", "please update the office wiki", "lunch menu for friday",
         "quarterly numbers look fine", "the elevator makes a noise", "parking permits renew in may"]


def make_item(project, text, *, source=None, **fields):
    return Item.objects.create(project=project, source=source, text=text, text_hash=text_hash(text), **fields)


def answer_row(project, item, label, user=None, *, origin=Annotation.ANNOTATOR, skipped=False, undone=False,
               at=None, reason=""):
    """An answer row as the services store it (created_at set explicitly so order is certain)."""
    row = Annotation.objects.create(project=project, item=item, label=label, annotator=user, origin=origin,
                                    skipped=skipped, skip_reason=reason, undone=undone)
    if at is not None:
        Annotation.objects.filter(pk=row.pk).update(created_at=at)
    return row


def score(item, version, top: int, prob: float):
    probs = np.full(len(version.label_map), (1 - prob) / max(1, len(version.label_map) - 1), dtype="<f2")
    probs[top] = prob
    ItemScore.objects.create(item=item, model_version=version, probs=probs.tobytes(), top_label=top,
                             top_prob=prob, margin=0.1, entropy=0.5)


def planted_project(project, users):
    """Plant one item per filter condition in ``project`` (labels billing, login, fraud; sources
    email, chat). Returns {name: Item}. ``users``: {"ann": User, "bob": User}."""
    labels = {label.name: label for label in project.labels.all()}
    email, chat = project.sources.get(name="email"), project.sources.get(name="chat")
    t0 = timezone.now() - timedelta(days=1)
    for i, text in enumerate(NOISE):
        make_item(project, f"{text} {i}", source=email if i % 2 else chat)
    p = {}
    p["fraud_import"] = make_item(project, "somebody used my card in Lisbon", source=chat)
    answer_row(project, p["fraud_import"], labels["fraud"], origin=Annotation.IMPORT, at=t0)

    p["disputed"] = make_item(project, "charged twice for the same order", source=email)
    answer_row(project, p["disputed"], labels["billing"], users["ann"], at=t0)
    answer_row(project, p["disputed"], labels["login"], users["bob"], at=t0 + timedelta(minutes=1))
    ReviewTask.objects.create(project=project, item=p["disputed"], reason=ReviewTask.DISAGREEMENT)

    wave1 = Wave.objects.create(project=project, number=1, state=Wave.OPEN, size=1)
    p["in_wave"] = make_item(project, "reset link never arrives", source=email)
    WaveItem.objects.create(wave=wave1, item=p["in_wave"], strategy="rare", reason="close to login",
                            inclusion_prob=0.2)

    p["skipped"] = make_item(project, "asdf qwerty", source=chat)
    answer_row(project, p["skipped"], None, users["ann"], skipped=True, reason="gibberish", at=t0)

    wave2 = Wave.objects.create(project=project, number=2, state=Wave.CLOSED, size=1)
    p["login_wave2"] = make_item(project, "cannot sign in since the update", source=chat)
    WaveItem.objects.create(wave=wave2, item=p["login_wave2"], strategy="uncertainty", reason="margin 0.05",
                            inclusion_prob=0.5)
    answer_row(project, p["login_wave2"], labels["login"], users["bob"], at=t0)

    p["undone_only"] = make_item(project, "wrong answer taken back", source=email)
    answer_row(project, p["undone_only"], labels["billing"], users["ann"], undone=True, at=t0)

    p["in_review"] = make_item(project, "the model is unsure about this one", source=email)
    ReviewTask.objects.create(project=project, item=p["in_review"], reason=ReviewTask.LOW_CONFIDENCE)

    p["dup_a"] = make_item(project, "my parcel is late", source=email, dup_group=777)
    p["dup_b"] = make_item(project, "my parcel is very late", source=chat, dup_group=777)

    version = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE,
                                          label_map=["billing", "fraud", "login"])
    p["fraud_sure"] = make_item(project, "stolen wallet and strange withdrawals", source=chat)
    score(p["fraud_sure"], version, 1, 0.93)
    p["fraud_unsure"] = make_item(project, "a withdrawal I do not recognise maybe", source=email)
    score(p["fraud_unsure"], version, 1, 0.41)
    p["billing_scored"] = make_item(project, "invoice total looks off", source=email)
    score(p["billing_scored"], version, 0, 0.88)

    p["excluded"] = make_item(project, "internal test message", source=email, excluded=True)
    p["pinned"] = make_item(project, "urgent: account locked", source=chat, pinned_for_next_wave=True)
    p["zeppelin"] = make_item(project, "The zeppelins were delayed by strong winds", source=chat)
    return p
