"""GET models/ sent every version's whole report: at ~300 labels its confusion matrices, PR curves
and reliability bins made each version hundreds of KB (a reader measured 342 KB per version, a page
of 50 versions tens of MB). The list leaves those parts out; GET models/<number>/ has them."""
import json

import pytest
from rest_framework.test import APIClient

from labeling.modeling.models import ModelVersion

pytestmark = pytest.mark.django_db
K = 300


def heavy_report() -> dict:
    classes = [f"c{i}" for i in range(K)]
    report = {"classes": classes, "macro_f1": 0.5, "per_class": {c: {"f1": 0.5, "support": 3} for c in classes},
              "confusion_matrix": [[0] * K for _ in range(K)],
              "pr_curves": {c: {"precision": [0.5] * 50, "recall": [0.5] * 50} for c in classes},
              "reliability": [{"bin": i, "count": 3} for i in range(15)]}
    return {**report, "hierarchy": {"coarse": dict(report)}}


def test_the_list_leaves_out_the_large_parts_and_one_version_has_them(world):
    alpha = world["alpha"]
    ModelVersion.objects.create(project=alpha, number=1, state=ModelVersion.ACTIVE, train_size=40,
                                metrics=heavy_report(), label_map=["billing", "login", "fraud"])
    api = APIClient()
    api.force_authenticate(world["annotator"])  # members read
    listed = api.get("/api/projects/alpha/models/")
    row = listed.json()["results"][0]
    assert row["full_report"] is False and row["metrics"]["macro_f1"] == 0.5
    text = json.dumps(row)
    assert "confusion_matrix" not in text and "pr_curves" not in text and "reliability" not in text
    assert row["metrics"]["hierarchy"]["coarse"]["per_class"]["c7"] == {"f1": 0.5, "support": 3}
    assert len(listed.content) < 100_000

    one = api.get("/api/projects/alpha/models/1/")
    assert one.status_code == 200 and one.json()["full_report"] is True
    assert one.json()["metrics"] == heavy_report()
    assert len(one.content) > 10 * len(listed.content)
    assert api.get("/api/projects/alpha/models/2/").status_code == 404


def test_another_projects_version_is_not_found(world):
    ModelVersion.objects.create(project=world["beta"], number=1, state=ModelVersion.ACTIVE, train_size=4,
                                metrics={"macro_f1": 0.1}, label_map=["x"])
    api = APIClient()
    api.force_authenticate(world["annotator"])
    assert api.get("/api/projects/alpha/models/1/").status_code == 404
    assert api.get("/api/projects/beta/models/1/").status_code in (403, 404)
