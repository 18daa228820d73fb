"""A coarse label that is also a class (answered at the coarse level: its own branch) is emitted two
ways, as its class and as the fallback of its branch's fine labels; the browser's "predicted"
filter finds both, as the rows show them. A fallback whose fine candidate's label was deleted keeps
None as that candidate in the data (the page alone writes "—").

The head is a fixed linear map (identity weights) over 4-d log-probability vectors, so its
calibrated probabilities are the rows below. Classes late, rude, neg (all in the neg branch) and
pos; fine_floor 0.75. Three items of each kind:

- A: late .32, rude .27, neg .02, pos .39 → the neg branch (.61) wins; late's conditional .52 <
  .75: the model emits "neg", its fine candidate late.
- N: neg .90 → emits the class neg. P: pos .90 → emits pos.
"""
import re

import pytest
from rest_framework.test import APIClient

from labeling.modeling.models import ModelVersion
from labeling.modeling.scores import score_version
from labeling.projects.services import delete_label

from .test_fallback_shown_pages import fixed_head_bytes, make_world

pytestmark = pytest.mark.django_db
CLASSES = ["late", "rude", "neg", "pos"]
PARENTS = {"late": "neg", "rude": "neg", "neg": "neg", "pos": "pos"}
ROWS = {"A": [0.32, 0.27, 0.02, 0.39], "N": [0.02, 0.02, 0.90, 0.06], "P": [0.03, 0.02, 0.05, 0.90]}


@pytest.fixture
def coarse_class(project_factory, make_user):
    project, lead, kinds = make_world(project_factory, make_user, "coarsecls", labels=("neg", "late", "rude", "pos"),
                                      rows=ROWS, per_kind=3)
    labels = {label.name: label for label in project.labels.all()}
    version = ModelVersion.objects.create(
        project=project, number=1, state=ModelVersion.ACTIVE, train_size=40, label_map=CLASSES, metrics={},
        artifact=fixed_head_bytes(CLASSES, PARENTS), label_ids={label.name: label.pk for label in project.labels.all()})
    assert score_version(version) == 9
    client = APIClient()
    client.force_login(lead)
    return project, kinds, client, labels


def _listed(client, url) -> set[int]:
    response = client.get(url)
    assert response.status_code == 200
    return {int(i) for i in re.findall(r'data-item="(\d+)"', response.content.decode())}


def test_predicted_filter_finds_a_coarse_class_and_the_fallbacks_to_it(coarse_class):
    project, kinds, client, _ = coarse_class
    api = f"/api/projects/{project.slug}/items/"
    shown = {row["id"]: row["predicted_label"] for row in client.get(api).json()["results"]}
    assert {i for i, name in shown.items() if name == "neg"} == set(kinds["A"]) | set(kinds["N"])
    # the old filter found N's class rows only: A's fallbacks, shown as neg, were missed
    assert {row["id"] for row in client.get(api + "?predicted=neg").json()["results"]} == set(kinds["A"]) | set(kinds["N"])
    assert _listed(client, f"/p/{project.slug}/items/?predicted=neg") == set(kinds["A"]) | set(kinds["N"])
    # late's fallbacks are neg's, not late's; pos unchanged
    assert client.get(api + "?predicted=late").json()["results"] == []
    assert {row["id"] for row in client.get(api + "?predicted=pos").json()["results"]} == set(kinds["P"])


def test_fallback_from_a_deleted_label_is_none_in_the_data(coarse_class):
    project, kinds, client, labels = coarse_class
    delete_label(labels["late"])
    rows = {row["id"]: row for row in client.get(f"/api/projects/{project.slug}/items/").json()["results"]}
    for item_id in kinds["A"]:
        assert rows[item_id]["predicted_label"] == "neg"
        assert rows[item_id]["fallback"] is True
        assert rows[item_id]["fallback_from"] is None  # was "—", the page's placeholder
    assert all(rows[i]["fallback"] is False and rows[i]["fallback_from"] is None for i in kinds["N"] + kinds["P"])
    html = client.get(f"/p/{project.slug}/items/?predicted=neg").content.decode()
    assert html.count(">fallback</span>") == 3
    assert "its fine candidate, —, is below" in html
