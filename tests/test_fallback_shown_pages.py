"""Where a coarse → fine model falls back to the coarse label, the item browser's "predicted"
filter and rows, the item page and the dashboard's threshold rows show and count that coarse label
(marked as a fallback), not the fine candidate the stored score keeps as its top label.

The version's head is a fixed linear map (identity weights) over 4-d vectors that are the
log-probabilities built by hand, so its calibrated probabilities are those rows exactly. Classes
late, rude (under "neg"), pos, neu; fine_floor 0.75. Six items of each kind:

- A: pos .395, late .32, rude .28 → the neg branch (.60) wins; late's conditional .533 < .75: the
  model emits "neg" (probability .60); the stored top label is its fine candidate late.
- B: late .33, rude .03, pos .34 → neg branch .36; late's conditional .917: emits late.
- C: pos .90 → emits pos. D: late .90 → emits late.
"""
import re

import numpy as np
import pytest
from django.conf import settings
from rest_framework.test import APIClient
from sklearn.linear_model import LogisticRegression

from labeling.items.models import Item
from labeling.modeling.models import Embedding, ItemScore, ModelVersion
from labeling.modeling.scores import score_version
from labeling.projects.models import Membership
from learner.text import text_hash
from learner.training.classifier import TrainedClassifier

pytestmark = pytest.mark.django_db
CLASSES = ["late", "rude", "pos", "neu"]
PARENTS = {"late": "neg", "rude": "neg", "pos": "pos", "neu": "neu"}
ROWS = {"A": [0.32, 0.28, 0.395, 0.005], "B": [0.33, 0.03, 0.34, 0.30], "C": [0.03, 0.02, 0.90, 0.05],
        "D": [0.90, 0.03, 0.04, 0.03]}


def fixed_head_bytes(classes=tuple(CLASSES), parents=PARENTS) -> bytes:
    """A TrainedClassifier whose decision_function(x) = x: log-probabilities come back as those probabilities."""
    head = LogisticRegression()
    head.classes_ = np.array(classes)
    head.coef_ = np.eye(len(classes))
    head.intercept_ = np.zeros(len(classes))
    head.n_features_in_ = len(classes)
    return TrainedClassifier(head, parents=dict(parents), fine_floor=0.75).to_bytes()


def make_world(project_factory, make_user, slug: str, labels=("neg", "late", "rude", "pos", "neu"), rows=None,
               per_kind: int = 6):
    """(project, lead, kind → item ids): the taxonomy (late and rude under neg), a lead and ``per_kind``
    items of each kind of ``rows`` (kind → the head's input probabilities; ROWS by default)."""
    project = project_factory(slug, labels=labels, sources=("mail",))
    labels = {label.name: label for label in project.labels.all()}
    for fine in ("late", "rude"):
        labels[fine].parent = labels["neg"]
        labels[fine].save()
    lead = make_user(f"{slug}-lead")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    source = project.sources.get()
    kinds: dict[str, list[int]] = {}
    for kind, row in (rows or ROWS).items():
        for i in range(per_kind):
            text = f"{kind} message {i}"
            item = Item.objects.create(project=project, source=source, text=text, text_hash=text_hash(text))
            Embedding.objects.update_or_create(model_id=settings.LONGTAIL_MODEL_ID, text_hash=item.text_hash,
                                               defaults={"vector": np.log(np.asarray(row, dtype=np.float32)).tobytes()})
            kinds.setdefault(kind, []).append(item.pk)
    return project, lead, kinds


@pytest.fixture
def world(project_factory, make_user):
    project, lead, kinds = make_world(project_factory, make_user, "fallbacks")
    version = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE, train_size=40,
                                          label_map=CLASSES, metrics={}, artifact=fixed_head_bytes())
    assert score_version(version) == 24
    client = APIClient()
    client.force_login(lead)
    return project, version, kinds, client


def test_scores_record_which_rows_fall_back(world):
    _, version, kinds, _ = world
    stored = dict(ItemScore.objects.filter(model_version=version).values_list("item_id", "fallback"))
    assert {item_id for item_id, fallback in stored.items() if fallback} == set(kinds["A"])
    assert all(stored[i] is False for kind in "BCD" for i in kinds[kind])


def _listed(client, url) -> set[int]:
    response = client.get(url)
    assert response.status_code == 200
    return {int(i) for i in re.findall(r'data-item="(\d+)"', response.content.decode())}


def test_browser_predicted_filter_and_rows_are_of_the_emitted_label(world):
    project, _, kinds, client = world
    page = f"/p/{project.slug}/items/"
    # A's six items are the coarse label's (the old filter found none: "neg" is no class of the model)
    assert _listed(client, page + "?predicted=neg") == set(kinds["A"])
    # late: B and D emit it; A's fallbacks are no longer listed under their fine candidate
    assert _listed(client, page + "?predicted=late") == set(kinds["B"]) | set(kinds["D"])
    assert _listed(client, page + "?predicted=pos") == set(kinds["C"])
    html = client.get(page + "?predicted=neg").content.decode()
    assert html.count(">fallback</span>") == 6
    assert 'title="neg">neg</span>' in html and 'title="late">late</span>' not in html
    # the API answers the same query with the same rows, named as the page names them
    api = client.get(f"/api/projects/{project.slug}/items/?predicted=neg").json()
    assert {row["id"] for row in api["results"]} == set(kinds["A"])
    assert {row["predicted_label"] for row in api["results"]} == {"neg"}
    late = client.get(f"/api/projects/{project.slug}/items/?predicted=late").json()
    assert {row["predicted_label"] for row in late["results"]} == {"late"} and len(late["results"]) == 12


def _predictions_section(client, project, item_id) -> str:
    response = client.get(f"/p/{project.slug}/items/{item_id}/")
    assert response.status_code == 200
    html = response.content.decode()
    start = html.index('id="item-predictions"')
    return html[start:html.index("</section>", start)]


def test_item_page_shows_the_coarse_label_of_a_fallback(world):
    project, _, kinds, client = world
    section = _predictions_section(client, project, kinds["A"][0])
    cell = re.search(r'<td class="wrap-cell">(.*?)</td><td>([0-9.]+)</td>', section, re.S)
    assert cell.group(1).startswith("neg ") and ">fallback</span>" in cell.group(1)
    assert "fine candidate late" in cell.group(1)
    assert abs(float(cell.group(2)) - 0.60) < 2e-3  # the neg branch's probability, not late's .32
    other = _predictions_section(client, project, kinds["B"][0])
    cell = re.search(r'<td class="wrap-cell">(.*?)</td><td>([0-9.]+)</td>', other, re.S)
    assert cell.group(1) == "late" and abs(float(cell.group(2)) - 0.33) < 2e-3


def test_dashboard_threshold_rows_count_a_fallback_as_its_coarse_label(world):
    project, _, _, client = world
    table = client.get(f"/api/projects/{project.slug}/dashboard/").json()["thresholds"]
    assert table["source"].startswith("pool scores")
    shares = {row["label"]: row["predicted_share"] for row in table["rows"]}
    # 24 items: late 12 (B, D; A's 6 fallbacks not under their fine candidate), neg 6, pos 6, rude and neu none
    assert shares == {"late": 0.5, "rude": 0.0, "pos": 0.25, "neu": 0.0,
                      "neg (fallback to the coarse label)": 0.25}
