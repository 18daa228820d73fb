"""A coarse → fine model's bundle says how its head decides: model.json's ``thresholds`` are the fine
labels' only, and the fallback (to the coarse label, held to the coarse label's own threshold) was
invisible to a reader of the bundle. ``hierarchy`` gives the parents, the floor and the coarse
thresholds; a flat head's is null."""
import io
import json
import zipfile

import pytest

from learner.training import TrainedClassifier

from .test_predict import api_as
from .test_round37_fix10_predict_taxonomy import _trained

pytestmark = pytest.mark.django_db


def _bundle(world):
    response = api_as(world["lead"]).get("/api/projects/alpha/export/model/")
    assert response.status_code == 200, response.content
    return zipfile.ZipFile(io.BytesIO(response.content))


def test_hierarchical_bundle_names_parents_floor_and_coarse_thresholds(world):
    money, access = _trained(world["alpha"], world["annotator"])
    money.name = "Payments"  # renamed after training: the bundle maps the learned name to it
    money.save()
    bundle = _bundle(world)
    meta = json.loads(bundle.read("model.json"))
    hierarchy = meta["hierarchy"]
    assert hierarchy["parents"] == {"billing": "Money", "fraud": "Money", "login": "Access"}
    assert set(hierarchy["coarse_thresholds"]) <= {"Money", "Access"} and hierarchy["coarse_thresholds"]
    assert 0 < hierarchy["fine_floor"] < 1
    assert hierarchy["coarse_labels"] == {"Money": {"id": money.pk, "name": "Payments"},
                                          "Access": {"id": access.pk, "name": "Access"}}
    head = TrainedClassifier.from_bytes(bundle.read("head.bin"))
    assert head.coarse_thresholds == hierarchy["coarse_thresholds"] and head.fine_floor == hierarchy["fine_floor"]
    assert "`hierarchy`" in bundle.read("README.md").decode()
