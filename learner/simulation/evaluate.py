"""What simulate reports of a trained model on its evaluation rows: the wave models' and the
final model's scores come from the same function."""
from __future__ import annotations

import numpy as np

from learner.metrics import classification_report, expected_calibration_error


def evaluate_model(model, X_test, y_test, label_names, label_index, rare_classes) -> dict:
    """What simulate reports of a trained model (a TrainedClassifier) on its evaluation rows (test
    split or dev rows): macro- and micro-F1, the mean recall of ``rare_classes`` and the top-label
    ECE. The rows are scored once: the predicted labels are decoded from the same probabilities."""
    k = len(label_names)
    model_proba = model.predict_proba(X_test)
    proba = np.zeros((len(X_test), k), dtype=np.float32)
    proba[:, [label_index[c] for c in model.classes_]] = model_proba
    # What ``model.predict`` returns, without scoring the rows again: the fine candidate the model
    # emits (for a coarse → fine model the best fine label within the most probable branch).
    predicted = np.asarray(model.classes_, dtype=object)[model.emitted(model_proba).fine_column]
    # Without proba: per-class average precision is not needed here and costs a second per wave.
    report = classification_report(list(y_test), [str(v) for v in predicted], None, list(label_names))
    report["ece"] = expected_calibration_error(proba, np.array([label_index[v] for v in y_test]))
    recalls = [report["per_class"][c]["recall"] for c in rare_classes if report["per_class"][c]["support"] > 0]
    return {"macro_f1": report["macro_f1"], "micro_f1": report["micro_f1"],
            "rare_recall": float(np.mean(recalls)) if recalls else None, "ece": report.get("ece")}
