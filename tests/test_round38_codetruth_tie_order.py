"""One item, two annotators, two labels (a 1-1 tie): "ties go to the newest answer". "Newest" has
two implementations. resolve_item_labels (training, planning, estimates; labeling/annotations/
selectors.py, whose docstring says "Training, planning and export all read labels through this
rule") orders the answers by (created_at, id), and so does the item browser's SQL (max created_at,
then max id). The export (labeling/export/services.py _resolved_labels / iter_rows) and the
dashboard's labels per wave order them by id alone. created_at is set in Python before the INSERT
and the id by the sequence at the INSERT, so two answers stored at the same moment can have them in
opposite orders (simulated here by writing the created_at the race would give). The export then
ships the other label than the one the model trained on and the browser shows."""
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation
from labeling.annotations.selectors import resolve_item_labels
from labeling.export.services import iter_rows
from labeling.items.models import Item
from learner.text import text_hash

pytestmark = pytest.mark.django_db


def test_the_export_and_training_resolve_a_tie_alike(world, make_user):
    project = world["alpha"]
    billing, login = project.labels.get(name="billing"), project.labels.get(name="login")
    item = Item.objects.create(project=project, source=project.sources.first(), text="card charged twice",
                               text_hash=text_hash("card charged twice"))
    bob = make_user("bob")
    first = Annotation.objects.create(project=project, item=item, annotator=world["annotator"], label=billing)
    second = Annotation.objects.create(project=project, item=item, annotator=bob, label=login)
    assert first.pk < second.pk
    # The race: the lower id got the later timestamp (its request read the clock last).
    Annotation.objects.filter(pk=first.pk).update(created_at=second.created_at + timedelta(milliseconds=1))

    trained = resolve_item_labels(project)[item.pk]
    exported = {row["item_id"]: row["label"] for row in iter_rows(project)}[item.pk]
    assert trained == billing.pk  # newest by created_at
    api = APIClient()
    api.force_authenticate(world["lead"])
    listed = api.get("/api/projects/alpha/items/", {"label": "billing"}).json()["results"]
    assert [row["id"] for row in listed] == [item.pk]  # the browser's SQL agrees with training
    # today: "login" (newest by id)
    assert exported == "billing"
