"""Model artifacts written before the learner was split into packages (tests/fixtures/artifacts,
made by make_fixture.py at that commit) still load and predict exactly as they did; foreign or
damaged bytes are refused with a clear error."""
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from learner.training import TrainedClassifier
from learner.training.artifact import ARTIFACT_MAGIC

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "artifacts"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_an_artifact_of_the_old_layout_loads_and_predicts_as_before(name):
    clf = TrainedClassifier.from_bytes((FIXTURES / f"{name}.bin").read_bytes())
    probe = np.load(FIXTURES / "probe.npy")
    assert clf.classes_ == EXPECTED[name]["classes"]
    np.testing.assert_allclose(clf.predict_proba(probe), np.array(EXPECTED[name]["proba"]), atol=1e-5)
    assert clf.predict(probe) == EXPECTED[name]["predict"]


def test_a_reloaded_artifact_round_trips_in_the_new_layout():
    old = TrainedClassifier.from_bytes((FIXTURES / "hier_other_logreg.bin").read_bytes())
    again = TrainedClassifier.from_bytes(old.to_bytes())
    probe = np.load(FIXTURES / "probe.npy")
    np.testing.assert_array_equal(again.predict_proba(probe), old.predict_proba(probe))
    assert b"learner.hierarchy" not in old.to_bytes()  # written under the new module paths


def test_bytes_that_name_other_code_are_refused():
    class Foreign:
        def __reduce__(self):
            return (print, ("this must never run",))

    with pytest.raises(ValueError, match="never holds"):
        TrainedClassifier.from_bytes(ARTIFACT_MAGIC + pickle.dumps(Foreign()))
    with pytest.raises(ValueError, match="bad header"):
        TrainedClassifier.from_bytes(b"not an artifact")
    with pytest.raises(ValueError, match="cannot be read"):
        TrainedClassifier.from_bytes(ARTIFACT_MAGIC + b"\x80\x05truncated")
