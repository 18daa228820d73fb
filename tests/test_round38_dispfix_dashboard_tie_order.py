"""The dashboard's labels per wave and the scores it reads for PR curves and reliability resolve a
1-1 tie as training and the export do: "ties go to the newest answer", newest by (created_at, id).
They ordered the answers by id alone, so two answers stored at the same moment whose ids and times
are in opposite orders (a race: created_at is set in Python before the INSERT, the id at it) gave
the dashboard the other label than the one the model trained on and the export ships."""
import uuid
from datetime import timedelta

import numpy as np
import pytest

from labeling.annotations.models import Annotation
from labeling.annotations.selectors import resolve_item_labels
from labeling.export.services import iter_rows
from labeling.items.models import Item
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.projects import dashboard
from learner.scoring import pack_probs
from learner.text import text_hash

pytestmark = pytest.mark.django_db
CLASSES = ["billing", "fraud", "login"]


@pytest.fixture
def tie(project_factory, make_user):
    project = project_factory("dashtie", labels=CLASSES)
    labels = {label.name: label for label in project.labels.all()}
    item = Item.objects.create(project=project, source=project.sources.first(), text="card charged twice",
                               text_hash=text_hash("card charged twice"))
    first = Annotation.objects.create(project=project, item=item, annotator=make_user("dt-ann"),
                                      label=labels["billing"], client_id=uuid.uuid4())
    second = Annotation.objects.create(project=project, item=item, annotator=make_user("dt-bob"),
                                       label=labels["login"], client_id=uuid.uuid4())
    assert first.pk < second.pk
    # The race: the lower id got the later time; billing is the newest answer.
    Annotation.objects.filter(pk=first.pk).update(created_at=second.created_at + timedelta(milliseconds=1))
    assert resolve_item_labels(project)[item.pk] == labels["billing"].pk  # what training reads
    assert [row["label"] for row in iter_rows(project)] == ["billing"]  # what the export ships
    return project, item, labels


def test_labels_per_wave_count_the_tie_under_the_newest_answer(tie):
    project, _item, labels = tie
    per_wave, totals = dashboard.labeled_per_wave(project, {label.pk: name for name, label in labels.items()})
    assert totals == {"billing": 1}
    assert per_wave["series"]["billing"] == [1] and per_wave["series"]["login"] == [0]
    shown = {row["name"]: row["labeled_exact"] for row in dashboard.dashboard_data(project)["labels"]}
    assert shown == {"billing": 1, "fraud": 0, "login": 0}


def test_the_scores_read_for_the_charts_take_the_newest_answer_as_the_truth(tie):
    project, item, labels = tie
    model = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE, train_size=2,
                                        label_map=CLASSES, metrics={})
    ItemScore.objects.create(item=item, model_version=model, probs=pack_probs(np.array([0.2, 0.1, 0.7])),
                             top_label=2, top_prob=0.7, margin=0.5, entropy=0.8)
    scored = dashboard.scored_labeled_items(project, model, {label.pk: name for name, label in labels.items()})
    assert scored["classes"] == CLASSES
    assert [scored["classes"][y] for y in scored["y"]] == ["billing"]
