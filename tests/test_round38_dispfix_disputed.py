"""One rule for "disputed" across the product: two or more annotators' latest answers carry
different labels and no lead has adjudicated. The export read it from the answers; the item
browser's state filter and row state and the estimates' disputed picks read an OPEN disagreement
task, so an item whose disagreement a lead dismissed (the task closed, nothing stored) was
disputed in the export and not in the browser or the estimates.

Picks of a closed wave (known π, model v1 active) answered through the real services: a
disagreement the lead dismissed (through the review bulk API), one the lead adjudicated, one still
open, one annotator whose latest answer (by time, its id the lower) differs from the other's, and an
imported label that differs from an annotator's answer (no dispute)."""
import json
import uuid
from datetime import timedelta

import numpy as np
import pytest
from rest_framework.test import APIClient

from labeling.annotations.disagreement import sync_disagreement
from labeling.annotations.models import Annotation, ReviewTask
from labeling.annotations.review_services import resolve_review
from labeling.items.models import Item
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.projects import dashboard
from labeling.projects.estimates import version_estimates
from labeling.projects.models import Membership
from labeling.waves.models import Wave, WaveItem
from learner.scoring import pack_probs
from learner.text import text_hash

pytestmark = pytest.mark.django_db
CLASSES = ["billing", "fraud", "login"]
SLUG = "dispfix"


@pytest.fixture
def world(project_factory, make_user):
    project = project_factory(SLUG, labels=CLASSES)
    ann, bob, lead = (make_user(f"df-{n}") for n in ("ann", "bob", "lead"))
    for user, role in ((ann, Membership.ANNOTATOR), (bob, Membership.ANNOTATOR), (lead, Membership.LEAD)):
        Membership.objects.create(user=user, project=project, role=role)
    labels = {label.name: label for label in project.labels.all()}
    v1 = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE, train_size=30,
                                     label_map=CLASSES, metrics={})
    wave = Wave.objects.create(project=project, number=2, model_version=v1, state=Wave.CLOSED)

    def item(name):
        it = Item.objects.create(project=project, source=project.sources.first(), text=name, text_hash=text_hash(name))
        ItemScore.objects.create(item=it, model_version=v1, probs=pack_probs(np.array([0.8, 0.1, 0.1])),
                                 top_label=0, top_prob=0.8, margin=0.7, entropy=0.5)
        WaveItem.objects.create(wave=wave, item=it, strategy="random", inclusion_prob=0.1)
        return it

    def answer(it, label, user, origin=Annotation.ANNOTATOR):
        return Annotation.objects.create(project=project, item=it, annotator=user, label=labels[label],
                                         origin=origin, client_id=uuid.uuid4())

    items = {name: item(name) for name in ("dismissed", "adjudicated", "open", "latest", "imported", "agreed")}
    for name in ("dismissed", "adjudicated", "open"):
        answer(items[name], "billing", ann)
        answer(items[name], "login", bob)
    # ann answered twice; the lower id got the later time: her latest answer is login (by time)
    older_id = answer(items["latest"], "login", ann)
    newer_id = answer(items["latest"], "billing", ann)
    Annotation.objects.filter(pk=older_id.pk).update(created_at=newer_id.created_at + timedelta(milliseconds=1))
    answer(items["latest"], "billing", bob)
    answer(items["imported"], "fraud", None, origin=Annotation.IMPORT)
    answer(items["imported"], "billing", ann)
    answer(items["agreed"], "billing", ann)
    answer(items["agreed"], "billing", bob)
    tasks = {name: sync_disagreement(project, it.pk) for name, it in items.items()}
    for name in ("dismissed", "adjudicated", "open", "latest"):
        assert tasks[name] is not None, name  # the answers really disagree
    assert tasks["imported"] is None and tasks["agreed"] is None
    client = APIClient()
    client.force_authenticate(lead)
    task = tasks["dismissed"]
    r = client.post(f"/api/projects/{SLUG}/review/bulk/",
                    {"action": "dismiss", "tasks": [task.pk],
                     "shown": [{"task": task.pk, "label": None, "model_version": None}]}, format="json")
    assert r.status_code == 200 and r.json()["done"] == [task.pk], r.content
    resolve_review(project, lead, task_id=tasks["adjudicated"].pk, label_id=labels["login"].pk)
    assert not ReviewTask.objects.filter(item=items["dismissed"], resolved_at__isnull=True).exists()
    assert not Annotation.objects.filter(item=items["dismissed"], origin=Annotation.ADJUDICATION).exists()
    return {"project": project, "items": items, "client": client}


DISPUTED = {"dismissed", "open", "latest"}


def _names(world, ids):
    by_id = {it.pk: name for name, it in world["items"].items()}
    return {by_id[i] for i in ids}


def test_the_item_browser_filter_follows_the_answers(world):
    """On PostgreSQL the filter first narrows to candidate ids (labeling/items/narrowing.py), which
    must then include the items whose disagreement task is closed."""
    r = world["client"].get(f"/api/projects/{SLUG}/items/", {"state": "disputed"})
    assert r.status_code == 200, r.content
    rows = r.json()["results"]
    assert _names(world, [row["id"] for row in rows]) == DISPUTED
    assert {row["state"] for row in rows} == {"disputed"}


def test_the_item_browser_row_state_follows_the_answers(world):
    everything = {row["id"]: row["state"] for row in
                  world["client"].get(f"/api/projects/{SLUG}/items/", {"page_size": 50}).json()["results"]}
    assert {name for name, it in world["items"].items() if everything[it.pk] == "disputed"} == DISPUTED


def test_the_estimates_count_the_same_disputed_picks(world):
    sample = version_estimates(world["project"])[1]["sample"]
    assert (sample["drawn"], sample["disputed"], sample["answered"]) == (6, 3, 3)
    assert "3 disputed" in sample["summary"]
    assert dashboard.dashboard_data(world["project"])["estimates"]["sample"]["disputed"] == 3


def test_the_export_marks_the_same_items_disputed(world):
    r = world["client"].get(f"/api/projects/{SLUG}/export/jsonl/")
    assert r.status_code == 200
    rows = [json.loads(line) for line in b"".join(r.streaming_content).decode().splitlines()]
    assert len(rows) == 6
    assert _names(world, [row["item_id"] for row in rows if row["disputed"]]) == DISPUTED
