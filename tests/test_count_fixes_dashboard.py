"""The dashboard's "labeled per wave" counts items, not answers: each labeled item once, under its
resolved label (a lead's adjudication, else the majority), in the wave the export gives it, and
items no wave brought (an import) in a column that says so. Answers go through the real leasing,
answer and review services; the import through the importer."""
import csv
from collections import Counter

import pytest
from rest_framework.test import APIClient

from labeling.annotations import leasing
from labeling.annotations.models import ReviewTask
from labeling.annotations.review_services import resolve_review
from labeling.export.services import iter_rows
from labeling.items.services import import_path
from labeling.projects.dashboard import NO_WAVE
from labeling.projects.models import Membership
from labeling.waves.models import Wave, WaveItem
from labeling.waves.services import close_wave

from .test_annotation_helpers import add_member, answer, make_open_wave

pytestmark = pytest.mark.django_db


def lease(project, user, size):
    return {a.wave_item.item_id: a for a in leasing.lease_batch(project, user, size=size).assignments}


@pytest.fixture
def labeled(project_factory, make_user, tmp_path):
    """Seven labeled items: in wave 1 a disputed pick the lead adjudicated (positive vs negative →
    neutral), an agreed double pick (positive) and a single one (negative); a wave-1 pick answered
    only after wave 2 re-picked it (positive); a wave-2 pick nobody answered that the lead labeled
    from the review queue (neutral: its wave is its pick's); two imported labels (positive,
    negative)."""
    project = project_factory("counts", labels=("positive", "negative", "neutral"))
    project.overlap, project.rare_threshold = 2, 3
    project.save()
    labels = {label.name: label for label in project.labels.all()}
    ann, bob, carol = (add_member(make_user, project, name) for name in ("ann", "bob", "carol"))
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    wave1, items = make_open_wave(project, 4, double={0, 1}, shuffle=False)
    disputed, agreed, single, repicked = items
    held = lease(project, ann, 3)
    answer(project, ann, held[disputed.pk], labels["positive"])
    answer(project, ann, held[agreed.pk], labels["positive"])
    answer(project, ann, held[single.pk], labels["negative"])
    held = lease(project, bob, 2)
    answer(project, bob, held[disputed.pk], labels["negative"])
    answer(project, bob, held[agreed.pk], labels["positive"])
    task = ReviewTask.objects.get(item=disputed, reason=ReviewTask.DISAGREEMENT, resolved_at__isnull=True)
    resolve_review(project, lead, task_id=task.pk, label_id=labels["neutral"].pk)
    close_wave(wave1)
    wave2, (waiting, flagged) = make_open_wave(project, 2, number=2, shuffle=False)
    WaveItem.objects.create(wave=wave2, item=repicked, strategy="random", overlap=1, batch_number=0, position=0)
    for position, item in enumerate((waiting, flagged), start=1):
        WaveItem.objects.filter(item=item).update(position=position)
    held = lease(project, carol, 1)
    answer(project, carol, held[repicked.pk], labels["positive"])
    task = ReviewTask.objects.create(project=project, item=flagged, reason=ReviewTask.LEAD_REQUEST)
    resolve_review(project, lead, task_id=task.pk, label_id=labels["neutral"].pk)
    path = tmp_path / "labels.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([("text", "label"), ("imported praise", "positive"), ("imported gripe", "negative")])
    assert import_path(project, path).ok
    assert Wave.objects.get(pk=wave2.pk).state == Wave.OPEN  # one pick unanswered: the loop left it open
    return project, lead


def test_each_labeled_item_counts_once_under_its_resolved_label_and_wave(labeled):
    project, lead = labeled
    api = APIClient()
    api.force_authenticate(lead)
    data = api.get("/api/projects/counts/dashboard/").json()
    assert data["labeled_per_wave"] == {
        "waves": ["wave 1", "wave 2", NO_WAVE],
        "series": {"positive": [1, 1, 1], "negative": [1, 0, 1], "neutral": [1, 1, 0]},
    }
    assert {label["name"]: label["labeled"] for label in data["labels"]} == {"positive": 3, "negative": 2, "neutral": 2}
    # rare: fewer than 3 labeled items (the answer counts made negative look common: 3)
    assert {label["name"] for label in data["labels"] if label["rare"]} == {"negative", "neutral"}


def test_totals_equal_the_exported_rows_per_wave(labeled):
    project, lead = labeled
    api = APIClient()
    api.force_authenticate(lead)
    data = api.get("/api/projects/counts/dashboard/").json()
    exported = list(iter_rows(project))
    assert sum(label["labeled"] for label in data["labels"]) == len(exported) == 7
    per_wave = Counter((f"wave {row['wave']}" if row["wave"] is not None else NO_WAVE, row["label"])
                       for row in exported)
    shown = {(wave, name): n for name, counts in data["labeled_per_wave"]["series"].items()
             for wave, n in zip(data["labeled_per_wave"]["waves"], counts, strict=True) if n}
    assert shown == dict(per_wave)
