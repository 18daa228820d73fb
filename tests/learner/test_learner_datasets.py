import json

import numpy as np
import pytest

from learner.training import TrainConfig, train_classifier


@pytest.mark.datasets
def test_default_config_on_banking77_longtail(shared_datasets, dataset_vectors):
    vectors_path = dataset_vectors("banking77_longtail")
    rows = [json.loads(line) for line in (shared_datasets / "banking77_longtail.jsonl").open(encoding="utf-8")]
    X = np.load(vectors_path)
    assert len(X) == len(rows)
    y = np.array([r["label"] for r in rows])
    pool = np.array([r["split"] == "train" for r in rows])
    model = train_classifier(X[pool], y[pool], config=TrainConfig())
    predicted = np.array(model.predict(X[~pool]))
    from learner.metrics import classification_report

    report = classification_report(y[~pool], predicted, classes=model.classes_)
    assert report["macro_f1"] >= 0.80, report["macro_f1"]
    assert model.report["calibration"]["ece_after"] < model.report["calibration"]["ece_before"]
