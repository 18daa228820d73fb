"""Pool review routing decides as the served model decides: a two-level model (money → cash, card;
greet → hi, bye) that falls back to the coarse label "money" where its fine classes are unsure, with
a lead's precision target on "money", holds those fallbacks back for review (``decide``); every
such pool prediction must be a routing candidate, with the reason naming "money" and its threshold,
although its top fine class ("cash") is above its own threshold and outside the band.

The model is trained, scored and activated through the product's path (train_version,
score_version, activate_version) on pre-filled 8-d embeddings (no encoder); the served decisions
come from the predict API's ``predict_texts`` on the same items' texts."""
import numpy as np
import pytest
from django.conf import settings

from labeling.annotations.models import Annotation, ReviewTask
from labeling.items.models import Item
from labeling.modeling.models import Embedding
from labeling.modeling.predict import predict_texts
from labeling.modeling.review import ReviewGate, route_review
from labeling.modeling.scores import score_version
from labeling.modeling.versions import activate_version, load_classifier, train_version
from learner.text import exact_text_hash, text_hash

from .test_loop_helpers import _letters

pytestmark = pytest.mark.django_db
TAXONOMY = {"cash": "money", "card": "money", "hi": "greet", "bye": "greet"}
CENTRE = {"cash": 0, "card": 1, "hi": 2, "bye": 3}
LABELED, POOL = 60, 300
# float16 stored probabilities against the served float32 ones: rows this close to a cut are not judged
NEAR = 2e-3


def _vectors(rng, name: str, n: int, scale: float) -> np.ndarray:
    return (np.eye(8)[CENTRE[name]] * scale + rng.standard_normal((n, 8))).astype(np.float32)


@pytest.fixture
def coarse_model(project_factory):
    """(project, active version, pool items) of a two-level project: 60 labeled items per fine label,
    300 unlabeled per fine label, a 0.9 precision target on "money", band empty (only the model's
    decision routes), review share 100 % (the cap never binds)."""
    project = project_factory("coarse", labels=("money", "cash", "card", "greet", "hi", "bye"), sources=("mail",))
    labels = {label.name: label for label in project.labels.all()}
    for fine, coarse in TAXONOMY.items():
        labels[fine].parent = labels[coarse]
        labels[fine].save()
    labels["money"].precision_target = 0.9
    labels["money"].save()
    project.hierarchy_mode, project.label_prior, project.threshold_mix = "hierarchical", "off", "labeled"
    project.band_low = project.band_high = 0.0
    project.review_share_min, project.review_share_max = 0.0, 1.0
    project.save()
    rng = np.random.default_rng(0)
    source = project.sources.get()
    items, vectors, truth = [], [], []
    for name in CENTRE:
        for i, vector in enumerate(_vectors(rng, name, LABELED + POOL, 2.0)):
            text = f"{name} ticket {_letters(len(items))}"
            items.append(Item(project=project, source=source, text=text, text_hash=text_hash(text)))
            vectors.append(vector)
            truth.append(name if i < LABELED else None)
    items = Item.objects.bulk_create(items)
    Embedding.objects.bulk_create([Embedding(model_id=settings.LONGTAIL_MODEL_ID, text_hash=key,
                                             vector=vector.tobytes()) for item, vector in zip(items, vectors, strict=True)
                                   for key in (item.text_hash, exact_text_hash(item.text))])  # predict reads the latter
    Annotation.objects.bulk_create([Annotation(project=project, item=item, label=labels[name],
                                               origin=Annotation.IMPORT)
                                    for item, name in zip(items, truth, strict=True) if name])
    version = train_version(project, train_config={"self_training": False, "penalty": "fixed"})
    score_version(version)
    version = activate_version(version)
    return project, version, [item for item, name in zip(items, truth, strict=True) if name is None]


def _open_tasks(project) -> dict[int, ReviewTask]:
    return {t.item_id: t for t in ReviewTask.objects.filter(project=project, reason=ReviewTask.LOW_CONFIDENCE,
                                                             resolved_at__isnull=True)}


def _near_a_cut(row: dict, clf) -> bool:
    """The stored (float16) probabilities may fall on the other side of a cut than the served ones."""
    threshold = (clf.coarse_thresholds.get(row["label"], 0.0) if row["fallback"]
                 else clf.thresholds.get(row["label"], 0.0))
    return abs(row["prob"] - threshold) < NEAR or abs(row["fine_conditional"] - clf.fine_floor) < NEAR


def test_pool_routing_routes_every_prediction_the_model_holds_back_for_review(coarse_model):
    project, version, pool = coarse_model
    clf = load_classifier(version)
    threshold = clf.coarse_thresholds["money"]
    assert clf.parents and threshold > 0  # a real two-level model with a coarse threshold on money
    served = dict(zip((item.pk for item in pool), predict_texts(project, [item.text for item in pool]), strict=True))
    judged = {pk: row for pk, row in served.items() if not _near_a_cut(row, clf)}
    held_back = {pk for pk, row in judged.items() if row["needs_review"]}
    fallbacks = {pk for pk in held_back if judged[pk]["fallback"] and judged[pk]["label"] == "money"}
    # the case the old rule missed: the top fine class is above its own threshold (none is set)
    # and the band is empty, so only the coarse threshold holds these back
    assert len(fallbacks) >= 20 and all(clf.thresholds[judged[pk]["fine_label"]] == 0.0 for pk in fallbacks)

    route_review(version)
    tasks = _open_tasks(project)
    assert {pk for pk in tasks if pk in judged} == held_back
    for pk in fallbacks:
        detail = tasks[pk].detail
        assert f"'money' at {judged[pk]['prob']:.2f}" in detail["why"], detail["why"]
        assert f"below its threshold {min(threshold, 1.0):.2f}" in detail["why"], detail["why"]
        # the task proposes the fine label the model held back, by its label's id
        assert detail["predicted"] == judged[pk]["fine_label"]
        assert detail["predicted_label_id"] == project.labels.get(name=judged[pk]["fine_label"]).pk
    # a second pass under the same version keeps them open (re-judged doubtful, not expired)
    result = route_review(version)
    assert result.expired == 0 and set(_open_tasks(project)) == set(tasks)


def test_the_predict_gate_judges_a_prediction_by_the_served_decision(coarse_model):
    project, version, pool = coarse_model
    clf = load_classifier(version)
    rows = [row for row in predict_texts(project, [item.text for item in pool]) if not _near_a_cut(row, clf)]
    gate = ReviewGate(version, project)
    fallbacks = [row for row in rows if row["fallback"] and row["needs_review"]]
    assert len(fallbacks) >= 20
    for row in rows:
        judgement = gate.judge(row)
        assert bool(judgement.why) == row["needs_review"], (row, judgement)
        assert gate.labels.names[judgement.column] == row["fine_label"]
    assert all("coarse label 'money'" in gate.judge(row).why for row in fallbacks)
    # a task the gate opens for such a text says why, and proposes the fine label held back
    item = pool[0]
    gate.open_task(item.pk, *ReviewGate.top(fallbacks[0]), fallbacks[0])
    detail = ReviewTask.objects.get(item=item, reason=ReviewTask.LOW_CONFIDENCE).detail
    assert "the model falls back to the coarse label 'money'" in detail["why"], detail
    assert detail["predicted"] == fallbacks[0]["fine_label"] and detail["coarse_fallback"]["label"] == "money"



def test_the_predict_api_queues_the_coarse_fallbacks_it_holds_back(coarse_model):
    """Texts through the predict API's queue (queue_predictions_for_review; the pool's texts, whose
    8-d vectors the model reads): the fallbacks the served model holds back are queued, whatever
    their top fine class's own threshold says."""
    from labeling.projects.services import queue_predictions_for_review

    project, version, pool = coarse_model
    clf = load_classifier(version)
    texts = [item.text for item in pool]
    rows = predict_texts(project, texts)
    fallbacks = [i for i, row in enumerate(rows) if row["fallback"] and row["needs_review"]
                 and not _near_a_cut(row, clf)]
    assert len(fallbacks) >= 20
    queued = queue_predictions_for_review(project, texts, rows)
    assert set(fallbacks) <= set(queued)
    assert all("coarse label 'money'" in ReviewTask.objects.get(item_id=queued[i], resolved_at__isnull=True)
               .detail["why"] for i in fallbacks[:5])
