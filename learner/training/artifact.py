"""The classifier artifact: ``ARTIFACT_MAGIC`` followed by a pickle of the TrainedClassifier.

Loading goes through a restricted unpickler: only classes of this library, numpy and
scikit-learn may be named (an artifact is still only for bytes this app wrote itself; the
allowlist makes a foreign or damaged file fail with a clear error instead of running code it
names). ``LEGACY_CLASSES`` maps where classes lived before the learner was split into packages,
so artifacts saved by earlier versions still load (tests/fixtures/artifacts holds some).
"""
from __future__ import annotations

import io
import pickle

ARTIFACT_MAGIC = b"LONGTAIL-CLASSIFIER\x00v1\x00"
ALLOWED_MODULES = ("learner.", "numpy", "sklearn.")
LEGACY_CLASSES = {
    ("learner.training", "TrainedClassifier"): ("learner.training.classifier", "TrainedClassifier"),
    ("learner.training", "_BaseFactory"): ("learner.training.build", "BaseFactory"),
    ("learner.training", "_LeafFactory"): ("learner.training.build", "LeafFactory"),
    ("learner.heads", "LogRegHead"): ("learner.heads.logreg", "LogRegHead"),
    ("learner.heads", "TorchHead"): ("learner.heads.torch_head", "TorchHead"),
    ("learner.heads", "ConstantHead"): ("learner.heads.base", "ConstantHead"),
    ("learner.hierarchy", "HierarchicalHead"): ("learner.heads.hierarchy", "HierarchicalHead"),
    ("learner.longtail", "OtherBucketHead"): ("learner.heads.other_bucket", "OtherBucketHead"),
}


class _ArtifactUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        module, name = LEGACY_CLASSES.get((module, name), (module, name))
        if not (module == "numpy" or module.startswith(ALLOWED_MODULES)):
            raise pickle.UnpicklingError(f"artifact names {module}.{name}, which a Longtail classifier never holds")
        return super().find_class(module, name)


def to_bytes(classifier) -> bytes:
    return ARTIFACT_MAGIC + pickle.dumps(classifier, protocol=pickle.HIGHEST_PROTOCOL)


def from_bytes(data: bytes):
    """The object an artifact holds; ValueError for bytes that are not a Longtail artifact."""
    data = bytes(data)
    if data[: len(ARTIFACT_MAGIC)] != ARTIFACT_MAGIC:
        raise ValueError("not a Longtail classifier artifact (bad header)")
    try:
        return _ArtifactUnpickler(io.BytesIO(data[len(ARTIFACT_MAGIC):])).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        raise ValueError(f"the classifier artifact cannot be read: {exc}") from exc
