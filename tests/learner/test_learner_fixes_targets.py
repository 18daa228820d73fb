"""A lead's precision target governs every prediction the model emits under that label name: a
coarse label's target after some items were answered at the coarse level only (the label is then
a trained class too), and a target on a label nobody has labeled yet that the label-name prior
makes predictable. Targets go through ``restrict_taxonomy`` as the product's retrain passes them
(labeling.modeling.versions.train_version); each test judges the predictions on fresh items."""
import numpy as np

from learner.training import TrainConfig, train_classifier
from learner.training.taxonomy import restrict_taxonomy

TAXONOMY = {"cash": "money", "card": "money", "hi": "greet", "bye": "greet"}
E = np.eye(8)
TARGET = 0.9


def rows(counts: dict, centres: dict, scale: float, seed: int):
    """Rows around ``scale`` × each label's centre with unit Gaussian noise."""
    rng = np.random.default_rng(seed)
    labels = [label for label, n in counts.items() for _ in range(n)]
    X = np.stack([centres[label] * scale + rng.standard_normal(8) for label in labels]).astype(np.float32)
    return X, np.array(labels)


def train_with_coarse_answers(centres: dict, scale: float, fine_floor: float):
    """cash / card / hi / bye, plus 40 items answered only as "money"; a precision target on the
    coarse label money, restricted as the product's retrain restricts it."""
    X, y = rows({"cash": 60, "card": 60, "money": 40, "hi": 60, "bye": 60}, centres, scale, seed=0)
    parents, targets = restrict_taxonomy(TAXONOMY, {"money": {"precision": TARGET}}, set(y.tolist()))
    assert parents["money"] == "money"  # the coarse answers are a class of their own branch
    config = TrainConfig(hierarchy="coarse_then_fine", label_prior="off", penalty="fixed", self_training=False,
                         threshold_mix="labeled", fine_floor=fine_floor)
    clf = train_classifier(X, y, config=config, parents=parents, targets=targets)
    X_new, y_new = rows({"cash": 300, "card": 300, "money": 200, "hi": 300, "bye": 300}, centres, scale, seed=1)
    is_money = np.array([label == "money" or TAXONOMY.get(label) == "money" for label in y_new])
    return clf, clf.decide(X_new), is_money


def emitted_as_money(decisions, is_money, fallback: bool):
    """(accepted, sent to review, precision of the accepted) of the predictions labeled "money"."""
    chosen = [i for i, d in enumerate(decisions) if d["label"] == "money" and d["fallback"] == fallback]
    accepted = [i for i in chosen if not decisions[i]["needs_review"]]
    precision = float(np.mean(is_money[accepted])) if accepted else None
    return len(accepted), len(chosen) - len(accepted), precision


def test_coarse_target_sends_imprecise_coarse_fallbacks_to_review():
    # money and greet overlap: about 80 % of the "money" fallbacks are money, short of 90 %
    centres = {"cash": E[0], "card": E[1], "money": E[0], "hi": E[2], "bye": E[3]}
    clf, decisions, is_money = train_with_coarse_answers(centres, scale=1.5, fine_floor=0.75)
    accepted, reviewed, precision = emitted_as_money(decisions, is_money, fallback=True)
    assert accepted + reviewed > 100
    # the old code accepted every one of them (coarse threshold 0), at a precision of about 0.8
    assert accepted == 0 or precision >= TARGET, (accepted, reviewed, precision)
    coarse_rows = {r["label"]: r for r in clf.report["hierarchy"]["coarse_thresholds"]}
    assert coarse_rows["money"]["target"] == {"precision": TARGET}


def test_coarse_target_met_accepts_fallbacks_above_its_threshold_only():
    centres = {"cash": E[0], "card": E[1], "money": E[0], "hi": E[2], "bye": E[3]}
    clf, decisions, is_money = train_with_coarse_answers(centres, scale=3.0, fine_floor=0.75)
    accepted, reviewed, precision = emitted_as_money(decisions, is_money, fallback=True)
    assert accepted > 100 and reviewed > 0 and precision >= TARGET, (accepted, reviewed, precision)
    threshold = clf.coarse_thresholds["money"]
    assert 0 < threshold < 1
    assert all(d["needs_review"] == (d["prob"] < threshold)
               for d in decisions if d["label"] == "money" and d["fallback"])


def test_the_class_of_coarse_answers_is_held_to_the_coarse_precision():
    # The coarse answers lie between cash and card: the class "money" is predicted (fine floor 0.3),
    # rarely for the very items answered "money", but a "money" label on a cash or card item is
    # right. Judged that way its precision target is met; judged on exact labels it never is, and
    # every such prediction went to review although nearly all were right.
    centres = {"cash": E[0], "card": E[1], "money": (E[0] + E[1]) / 2, "hi": E[2], "bye": E[3]}
    clf, decisions, is_money = train_with_coarse_answers(centres, scale=5.0, fine_floor=0.3)
    accepted, reviewed, precision = emitted_as_money(decisions, is_money, fallback=False)
    assert accepted > 50 and precision >= TARGET, (accepted, reviewed, precision)
    fine_row = next(r for r in clf.report["thresholds"] if r["label"] == "money")
    assert fine_row["target"] == {"precision": TARGET} and fine_row["judged_on"] == "coarse label"
    threshold = clf.thresholds["money"]
    assert all(d["needs_review"] == (d["prob"] < threshold)
               for d in decisions if d["label"] == "money" and not d["fallback"])


def prior_project(label_prior: str):
    """Labels a and b with 40 rows each; c has none, only its label-name vector; a precision
    target on c, restricted as the product's retrain restricts it."""
    rng = np.random.default_rng(0)
    scaled = E * 3
    y = np.array(["a"] * 40 + ["b"] * 40)
    X = np.stack([scaled[0 if label == "a" else 1] + rng.standard_normal(8) for label in y]).astype(np.float32)
    parents, targets = restrict_taxonomy({}, {"c": {"precision": TARGET}}, set(y.tolist()))
    config = TrainConfig(label_prior=label_prior, hierarchy="flat", penalty="fixed", self_training=False,
                         threshold_mix="labeled")
    clf = train_classifier(X, y, config=config, targets=targets or None, parents=parents or None,
                           label_vectors={"a": scaled[0], "b": scaled[1], "c": scaled[2]})
    X_c = (scaled[2] + rng.standard_normal((20, 8))).astype(np.float32)  # new items that look like c
    return clf, clf.decide(X_c)


def test_target_on_a_label_only_the_prior_predicts_sends_its_predictions_to_review():
    clf, decisions = prior_project("on")
    assert "c" in clf.classes_
    predicted_c = [d for d in decisions if d["label"] == "c"]
    assert len(predicted_c) >= 15
    # nothing verifies c's precision (no labeled item): none of them is accepted unreviewed
    assert all(d["needs_review"] for d in predicted_c), [d["prob"] for d in predicted_c]


def test_target_on_a_label_the_model_cannot_predict_is_noted():
    clf, decisions = prior_project("off")
    assert "c" not in clf.classes_ and not any(d["label"] == "c" for d in decisions)
    assert any("['c'] not applied" in note for note in clf.report["notes"]), clf.report["notes"]
