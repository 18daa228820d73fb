"""The final model on tiny data, on CPU with a few steps: SetFit-style pairs, contrastive
fine-tuning of the bundled encoder, the cross-fitted comparison with the frozen encoder, and the
saved folder loading back in a fresh process with the same predictions."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from learner.embedding import bundled_model_path
from learner.finetune import FinetuneConfig, make_pairs
from learner.finetune.contrastive import encode, load_encoder
from learner.finetune.distill import class_weights, initial_head
from learner.finetune.final import load_final_model, train_final_model
from learner.training import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
TEXTS = {
    "billing": ["I was charged twice for my order", "refund the double charge on my card",
                "why is there an extra fee on my bill", "the invoice amount is wrong", "charged more than the price",
                "please return my money for the duplicate payment"],
    "login": ["I cannot log in to my account", "password reset email never arrives", "my login keeps failing",
              "locked out after too many attempts", "two factor code does not work", "cannot sign in on the app"],
    "delivery": ["my parcel has not arrived yet", "where is my package", "the courier lost my delivery",
                 "tracking shows no movement for a week", "the box arrived damaged", "delivery is late again"],
}


def tiny():
    texts = [t for label in TEXTS for t in TEXTS[label]]
    labels = [label for label in TEXTS for _ in TEXTS[label]]
    return texts, labels


def test_pairs_are_balanced_and_honest():
    labels = ["a"] * 5 + ["b"] * 3 + ["c"]
    first, second, target = make_pairs(labels, 200, seed=1)
    y = np.array(labels)
    assert target.sum() == 100
    assert (y[first[target == 1]] == y[second[target == 1]]).all()
    assert (first[target == 1] != second[target == 1]).all()
    assert (y[first[target == 0]] != y[second[target == 0]]).all()
    # the single-row label is never in a positive pair, but does anchor negatives
    assert "c" not in set(y[first[target == 1]]) and "c" in set(y[first[target == 0]]) | set(y[second[target == 0]])
    with pytest.raises(ValueError, match="at least 2 labels"):
        make_pairs(["a", "a"], 4)


def test_bad_options_are_refused_by_name():
    with pytest.raises(ValueError, match="unknown fine-tuning option"):
        FinetuneConfig.from_dict({"epoch": 2})
    with pytest.raises(ValueError, match="folds"):
        FinetuneConfig.from_dict({"folds": 1})


def test_final_model_trains_compares_saves_and_loads_in_a_fresh_process(tmp_path):
    texts, labels = tiny()
    seen = []
    final = train_final_model(texts, labels, model_path=bundled_model_path(),
                              config=FinetuneConfig(max_steps=3, batch_size=8, folds=2, threads=1),
                              on_progress=lambda share, message: seen.append(share))
    report = final.report
    assert report["finetune"]["steps"] == 3 and report["finetune"]["device"] in ("cpu", "cuda")
    comparison = report["oof_macro_f1"]
    assert comparison["rows"] == len(texts) and set(comparison) >= {"fine_tuned", "frozen"}
    assert report["beats_frozen"] == (comparison["fine_tuned"] > comparison["frozen"])
    assert final.classifier.report["final_model"]["rows"] == len(texts)
    assert seen == sorted(seen) and seen[-1] == 1.0
    # the encoder moved: its vectors are no longer the frozen model's

    frozen = encode(load_encoder(bundled_model_path()), texts[:4])
    tuned = encode(final.encoder, texts[:4])
    assert not np.allclose(frozen, tuned, atol=1e-4)

    directory = final.save(tmp_path / "final")
    assert (directory / "encoder" / "config.json").is_file() and (directory / "head.bin").is_file()
    expected = final.predict_texts(["refund my duplicate charge", "my package never came"])
    # A fresh interpreter, offline, with the documented snippet's imports only.
    snippet = (
        "import json, sys\n"
        "from sentence_transformers import SentenceTransformer\n"
        "from learner.training import TrainedClassifier\n"
        f"d = {str(directory)!r}\n"
        "encoder = SentenceTransformer(d + '/encoder', device='cpu', local_files_only=True)\n"
        "head = TrainedClassifier.from_bytes(open(d + '/head.bin', 'rb').read())\n"
        "X = encoder.encode(['refund my duplicate charge', 'my package never came'], normalize_embeddings=True)\n"
        "print(json.dumps([{'label': r['label'], 'prob': r['prob']} for r in head.decide(X)]))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, env=env, timeout=600,
                         cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert [g["label"] for g in got] == [e["label"] for e in expected]
    assert np.allclose([g["prob"] for g in got], [e["prob"] for e in expected], atol=1e-4)
    again = load_final_model(directory)
    assert again.report["rows"] == len(texts)


def test_distillation_weights_and_starting_head():
    y = np.array([0] * 8 + [1] * 2 + [2] * 2)
    w = class_weights(y, 4)
    assert np.mean(w[y]) == pytest.approx(1.0) and w[1] == pytest.approx(4 * w[0]) and w[3] == 0.0
    # the starting head decides as the logistic regression on the frozen vectors does (binary too)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 8))
    X = np.vstack([centres[k] + 0.3 * rng.normal(size=(6, 8)) for k in range(3)]).astype(np.float32)
    labels = np.repeat([0, 2, 3], 6)  # class 1 has no row
    weight, bias = initial_head(X, labels, 4, seed=0)
    assert ((X @ weight.T + bias).argmax(axis=1) == labels).all()
    weight, bias = initial_head(X[:12], labels[:12], 4, seed=0)
    assert ((X[:12] @ weight.T + bias).argmax(axis=1) == labels[:12]).all()


def test_distilled_final_model_uses_the_unlabeled_texts(tmp_path):
    texts, labels = tiny()
    unlabeled = ["money taken twice from my account", "the app rejects my password", "my order is stuck in transit",
                 "extra charge appeared", "cannot access my profile", "parcel went missing"]
    config = FinetuneConfig(method="distill", max_steps=3, batch_size=6, unlabeled_batch_size=4, folds=2,
                            threads=1, max_unlabeled=5)
    with pytest.raises(ValueError, match="unlabeled texts but"):
        train_final_model(texts, labels, model_path=bundled_model_path(), unlabeled=unlabeled,
                          frozen_unlabeled=np.zeros((2, 384), dtype=np.float32), config=config)
    final = train_final_model(texts, labels, model_path=bundled_model_path(), unlabeled=unlabeled, config=config)
    report = final.report
    assert report["finetune"]["method"] == "distill" and report["finetune"]["steps"] == 3
    assert report["unlabeled_rows"] == 5 and report["finetune"]["unlabeled_rows"] == 5
    assert report["finetune"]["kl_first"] is not None
    assert report["oof_macro_f1"]["rows"] == len(texts)
    assert report["beats_frozen"] == (report["oof_macro_f1"]["fine_tuned"] > report["oof_macro_f1"]["frozen"])
    frozen = encode(load_encoder(bundled_model_path()), texts[:4])
    assert not np.allclose(frozen, encode(final.encoder, texts[:4]), atol=1e-4)
    again = load_final_model(final.save(tmp_path / "distilled"))
    assert [r["label"] for r in again.predict_texts(texts[:3])] == [r["label"] for r in final.predict_texts(texts[:3])]
    with pytest.raises(ValueError, match="method"):
        FinetuneConfig.from_dict({"method": "mlm"})


def test_final_model_figures_come_from_rows_no_encoder_saw():
    """Labels drawn at random, unrelated to the texts, and an encoder fine-tuned until it learns
    them: folds over its own embeddings would report far above chance; the cross-fitted folds
    report chance, and the temperature says the scores mean little."""
    texts, _ = tiny()
    labels = np.random.default_rng(0).permutation(["a", "b", "c"] * (len(texts) // 3)).tolist()
    train_config = TrainConfig(self_training=False, cv_folds=3)
    memorise = dict(max_steps=40, batch_size=8, lr=2e-4, threads=1, max_seq_length=32)
    leaked = train_final_model(texts, labels, model_path=bundled_model_path(), train_config=train_config,
                               config=FinetuneConfig(folds=0, **memorise)).classifier.report
    assert leaked["validation"]["macro_f1"] > 0.8  # what the encoder learned shows through its own folds
    assert "optimistic" in leaked["notes"][-1]
    honest = train_final_model(texts, labels, model_path=bundled_model_path(), train_config=train_config,
                               targets={"a": {"precision": 0.9}},
                               config=FinetuneConfig(folds=2, **memorise)).classifier.report
    assert honest["validation_source"] == "fine-tuned encoder folds" and honest["n_evaluated"] == len(texts)
    assert honest["validation"]["macro_f1"] < 0.6
    assert honest["calibration"]["temperature"] > 2  # flat probabilities: nothing to be sure of
    (row,) = [row for row in honest["thresholds"] if row["label"] == "a"]
    assert row["met"] is not True, row


def test_final_model_choices_come_from_rows_no_encoder_saw():
    """The served head's "auto" choices (structure and floor, label-name prior, penalty): with
    random labels an encoder fine-tuned on them makes every arm look near perfect in folds over its
    own embeddings; judged on the cross-fitted fold encoders, every arm is near chance."""
    texts, _ = tiny()
    labels = np.random.default_rng(1).permutation(["billing", "login", "delivery"] * (len(texts) // 3)).tolist()
    texts, labels = texts * 2, labels * 2  # 36 rows: enough for each choice's evidence
    groups = np.arange(len(texts)) % (len(texts) // 2)  # a text and its copy stay in one fold
    parents = {"billing": "money", "login": "account", "delivery": "account"}
    label_texts = {"billing": "billing: charges and refunds", "login": "login: signing in",
                   "delivery": "delivery: parcels"}
    train_config = TrainConfig(self_training=False, cv_folds=3, hierarchy="auto", label_prior="auto",
                               label_prior_below=20, penalty="auto")
    memorise = dict(max_steps=40, batch_size=8, lr=2e-4, threads=1, max_seq_length=32)
    common = dict(model_path=bundled_model_path(), groups=groups, parents=parents, label_texts=label_texts,
                  train_config=train_config)
    leaked = train_final_model(texts, labels, config=FinetuneConfig(folds=0, **memorise), **common).classifier.report
    honest = train_final_model(texts, labels, config=FinetuneConfig(folds=2, **memorise), **common).classifier.report
    for key in ("hierarchy_choice", "label_prior_choice", "penalty_choice"):
        assert min(leaked[key]["macro_f1"].values()) > 0.8, leaked[key]
        assert max(honest[key]["macro_f1"].values()) < 0.6, honest[key]
        assert honest[key]["evidence"].startswith("cross-fitted folds") and honest[key]["folds"] == 2


def test_final_model_keeps_the_retrains_prior_and_calibrates_the_structure_it_serves():
    """The label-name prior a project sets reaches the final model (each encoder embeds the label
    texts), and the fold heads its calibration comes from use the structure and fallback floor the
    served head's evidence chose, not the project's unresolved ones."""
    texts, labels = tiny()
    texts, labels = texts * 2, labels * 2  # 36 rows: enough for the structure's evidence
    groups = np.arange(len(texts)) % (len(texts) // 2)  # a text and its copy stay in one fold
    parents = {"billing": "money", "login": "account", "delivery": "account"}
    label_texts = {"billing": "billing: charges, refunds and invoices", "login": "login: signing in to the account",
                   "delivery": "delivery: parcels and couriers"}
    train_config = TrainConfig(self_training=False, label_prior="on", label_prior_below=20, hierarchy="auto",
                               fine_floor=0.9)
    config = FinetuneConfig(max_steps=3, batch_size=8, folds=2, threads=1, max_seq_length=32)
    final = train_final_model(texts, labels, model_path=bundled_model_path(), groups=groups, parents=parents,
                              label_texts=label_texts, train_config=train_config, config=config)
    report = final.classifier.report
    assert report["choices"]["label_prior"]["used"] and report["label_prior"]["labels"] == 3
    assert report["choices"]["structure_chosen_by"] == "out-of-fold evidence"
    assert report["hierarchy"]["fine_floor"] == final.classifier.fine_floor == report["config"]["fine_floor"]
    assert report["validation_source"] == "fine-tuned encoder folds"
    without = train_final_model(texts, labels, model_path=bundled_model_path(), groups=groups, parents=parents,
                                train_config=train_config, config=config).classifier.report
    assert not without["choices"]["label_prior"]["used"]  # no label texts, no prior rows
