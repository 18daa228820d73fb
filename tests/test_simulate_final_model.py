"""manage.py simulate --final-model on tiny data, on CPU with a few fine-tuning steps: the final
model is trained after the last wave as the product trains it (never on an evaluation text, not
even as an unlabeled one) and scored on the evaluation split the waves are judged on."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from learner.simulation import data as sim_data
from learner.simulation import final_model as final_module

ROOT = Path(__file__).resolve().parents[1]
TINY = '{"max_steps": 3, "batch_size": 8, "folds": 2, "threads": 1, "max_seq_length": 32}'
MARK = "zqxheldout"  # only the evaluation rows' texts carry it
PHRASES = {
    "billing": ["charged twice for my order", "refund the double charge", "extra fee on my bill",
                "the invoice amount is wrong"],
    "login": ["cannot log in to my account", "password reset email never arrives", "locked out of the app",
              "two factor code does not work"],
    "delivery": ["my parcel has not arrived", "where is my package", "the courier lost my delivery",
                 "the box arrived damaged"],
}


def write_data(tmp_path, n=96, dim=384):
    """JSONL with every 4th row in the test split (its text marked), and row-aligned embeddings."""
    rng = np.random.default_rng(0)
    labels = list(PHRASES)
    centers = rng.standard_normal((len(labels), dim))
    data, vectors = tmp_path / "tiny.jsonl", []
    with data.open("w") as fh:
        for i in range(n):
            k = i % len(labels)
            tag = " ".join(chr(97 + int(d)) for d in str(i))  # letters: digits are masked in the duplicate key
            test = i % 4 == 0
            text = f"{PHRASES[labels[k]][(i // 3) % 4]} {tag}" + (f" {MARK}" if test else "")
            fh.write(json.dumps({"text": text, "label": labels[k], "split": "test" if test else "train"}) + "\n")
            vectors.append(centers[k] + 0.9 * rng.standard_normal(dim))
    emb = np.asarray(vectors, dtype=np.float32)
    np.save(tmp_path / "tiny.npy", emb / np.linalg.norm(emb, axis=1, keepdims=True))
    return data, tmp_path / "tiny.npy"


def simulate(data, emb, tmp_path, *extra):
    call_command("simulate", "--data", str(data), "--budget", "30", "--wave-size", "15", "--strategy", "random",
                 "--seed", "0", "--out", str(tmp_path / "out"), "--embeddings", str(emb),
                 "--embedding-cache", str(tmp_path / "cache"), "--no-progress", *extra)
    return json.loads((tmp_path / "out" / "result.json").read_text())


def test_final_model_after_the_budget_is_scored_on_the_evaluation_split(tmp_path, monkeypatch, capsys):
    data, emb = write_data(tmp_path)
    seen = {}
    real = final_module.train_final_model

    def spy(texts, labels, **kwargs):  # records what the fine-tune is given, then runs it for real
        seen.update(texts=list(texts), unlabeled=list(kwargs["unlabeled"]), groups=kwargs["groups"],
                    frozen_unlabeled=kwargs["frozen_unlabeled"])
        return real(texts, labels, **kwargs)

    monkeypatch.setattr(final_module, "train_final_model", spy)
    result = simulate(data, emb, tmp_path, "--final-model", "--finetune", TINY)
    final = result["final_model"]
    assert result["test"] == 24 and result["pool"] == 72
    # scored on the waves' evaluation split, beside the last wave's frozen model
    assert final["evaluated_on"] == "test" and final["evaluation_rows"] == result["test"]
    assert 0.0 <= final["macro_f1"] <= 1.0 and final["frozen_macro_f1"] == result["waves"][-1]["macro_f1"]
    assert final["gain"] == pytest.approx(final["macro_f1"] - final["frozen_macro_f1"], abs=1e-4)
    assert final["version"] == len(result["waves"]) + 1
    # the product's decision: the cross-fitted out-of-fold comparison
    oof = final["oof_macro_f1"]
    assert oof["folds"] == 2 and final["beats_frozen"] == (oof["fine_tuned"] > oof["frozen"])
    assert final["device"] == "cpu" and final["seconds"] > 0
    assert final["finetune"]["steps"] == 3
    assert final["finetune_config"]["max_seq_length"] == 32 and final["finetune_config"]["seed"] == 0
    # trained on exactly the labeled rows; the unlabeled texts are pool rows nobody labeled, never a test text
    lines = [json.loads(line)["text"] for line in data.read_text().splitlines()]
    assert sorted(seen["texts"]) == sorted(lines[i] for i in result["labeled_rows"])
    assert final["labels"] == len(result["labeled_rows"]) == 30
    assert len(seen["unlabeled"]) == final["unlabeled_rows"] == result["pool"] - 30
    assert not any(MARK in t for t in seen["texts"] + seen["unlabeled"])
    assert not set(seen["unlabeled"]) & set(seen["texts"])
    assert len(seen["frozen_unlabeled"]) == len(seen["unlabeled"]) and len(seen["groups"]) == 30
    out = capsys.readouterr().out
    assert "final model (version 3, fine-tuned on 30 labels and 42 unlabeled pool rows)" in out
    assert "on 24 test rows" in out and "out of fold" in out


def test_bad_finetune_options_are_refused_by_name(tmp_path):
    data, emb = write_data(tmp_path)
    with pytest.raises(CommandError, match=r"--finetune: unknown fine-tuning option\(s\) \['epoch'\]"):
        simulate(data, emb, tmp_path, "--final-model", "--finetune", '{"epoch": 2}')
    with pytest.raises(CommandError, match="--finetune: folds must be 0"):
        simulate(data, emb, tmp_path, "--finetune", '{"folds": 1}')  # --finetune implies --final-model
    with pytest.raises(CommandError, match="--finetune: not valid JSON"):
        simulate(data, emb, tmp_path, "--finetune", "{epochs: 2}")
    assert not (tmp_path / "out" / "result.json").exists()  # refused before any wave ran
    # from the shell: one line naming the option, no traceback
    run = subprocess.run([sys.executable, "manage.py", "simulate", "--data", str(data), "--out", str(tmp_path / "o"),
                          "--embeddings", str(emb), "--no-progress", "--finetune", '{"epoch": 2}'],
                         cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode != 0
    assert "CommandError: --finetune: unknown fine-tuning option(s) ['epoch']" in run.stderr
    assert "Traceback" not in run.stderr


def test_with_a_dev_split_the_final_model_is_scored_on_dev_and_never_sees_it(tmp_path, monkeypatch):
    data, emb = write_data(tmp_path)
    seen = {}
    real = final_module.train_final_model

    def spy(texts, labels, **kwargs):
        seen.update(texts=list(texts), unlabeled=list(kwargs["unlabeled"]))
        return real(texts, labels, **kwargs)

    monkeypatch.setattr(final_module, "train_final_model", spy)
    result = simulate(data, emb, tmp_path, "--dev-fraction", "0.25", "--finetune",
                      '{"max_steps": 1, "batch_size": 8, "folds": 0, "threads": 1, "max_seq_length": 32}')
    final = result["final_model"]
    assert final["evaluated_on"] == "dev" and final["evaluation_rows"] == result["dev"] > 0
    assert final["oof_macro_f1"] is None and final["beats_frozen"] is None  # folds=0: never served
    loaded = sim_data.load_jsonl(data)
    pool, _ = sim_data.split_pool_test(loaded, 0)
    _, dev = sim_data.split_pool_dev(loaded, pool, 0, 0.25)
    dev_texts = {loaded.texts[i] for i in dev}
    assert len(dev_texts) == result["dev"]
    assert not dev_texts & set(seen["texts"] + seen["unlabeled"])
    assert not any(MARK in t for t in seen["unlabeled"])
    assert len(seen["unlabeled"]) == result["pool"] - 30
