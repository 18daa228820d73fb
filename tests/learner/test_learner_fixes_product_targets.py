"""The product's retrain (labeling.modeling.versions.train_version, real database) keeps a lead's
precision target on a label nobody has labeled yet: the label-name prior makes the label
predictable, and its predictions must go to review until labeled items verify its precision."""
import numpy as np

from labeling.modeling.models import Embedding
from labeling.modeling.versions import load_classifier, train_version
from labeling.projects.models import Label
from learner.text import exact_text_hash
from tests import test_loop_helpers as helpers


def test_retrain_sends_predictions_of_a_prior_only_label_with_a_target_to_review(db, project_factory):
    project, _ = helpers.build_project(project_factory, slug="prior-target", labels=("billing", "login", "fraud", "refund"),
                                       shares=(0.5, 0.3, 0.2, 0.0), n_labeled=60, label_prior="on")
    refund = Label.objects.get(project=project, name="refund")
    refund.precision_target = 0.9
    refund.save()
    version = train_version(project, train_config={"self_training": False})
    assert "refund" in version.label_map  # predictable through its name's vector alone
    stored = Embedding.objects.get(text_hash=exact_text_hash(helpers.label_text(refund)))
    name_vector = np.frombuffer(bytes(stored.vector), dtype=np.float32)
    rng = np.random.default_rng(1)
    near = name_vector + 0.3 * helpers.unit(rng, 20)  # new items that read like the label's name
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    predicted = [d for d in load_classifier(version).decide(near) if d["label"] == "refund"]
    assert len(predicted) >= 10
    assert all(d["needs_review"] for d in predicted), [round(d["prob"], 3) for d in predicted]
    # the pool's review routing reads the version's thresholds (labeling.modeling.review)
    assert version.thresholds["refund"] > 1
