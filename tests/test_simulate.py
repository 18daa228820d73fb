"""manage.py simulate end to end: synthetic data (random embeddings; label names still go through
the real encoder) and, where ../shared is present, a short run on TREC (every label, part of the pool) with
cached embeddings."""
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from learner import simulation as sim
from learner.simulation.data import split_pool_dev, split_pool_test
from learner.simulation.report import load_results
from learner.simulation.run import rarest_classes

WAVE_KEYS = {"wave", "labels", "macro_f1", "micro_f1", "rare_recall", "classes_ge1", "classes_ge3", "rare_ge1",
             "rare_ge3", "ece", "seconds"}
TOP_KEYS = {"data", "strategy", "seed", "pool", "test", "classes", "full_pool_macro_f1", "waves"}


def write_synthetic(tmp_path, n=400, with_test=True, dim=384):
    rng = np.random.default_rng(0)
    labels = ["card_arrival", "lost_card", "refund_request", "exchange_rate", "rare_thing"]
    sizes = np.array([0.35, 0.3, 0.2, 0.12, 0.03])
    y = rng.choice(len(labels), n, p=sizes)
    centers = rng.standard_normal((len(labels), dim))
    emb = centers[y] + 0.8 * rng.standard_normal((n, dim))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    data = tmp_path / "synthetic.jsonl"
    with data.open("w") as fh:
        for i in range(n):
            # Letters, not digits: digit runs are masked in the duplicate key, and the planner (like the
            # product) never picks two texts that normalise alike.
            tag = " ".join(chr(97 + int(d)) for d in str(i))
            row = {"text": f"message {tag} about {labels[y[i]].replace('_', ' ')}", "label": labels[y[i]],
                   "source": ["mail", "chat"][i % 2]}
            if with_test:
                row["split"] = "test" if i % 5 == 0 else "train"
            fh.write(json.dumps(row) + "\n")
    emb_path = tmp_path / "synthetic.npy"
    np.save(emb_path, emb.astype(np.float32))
    return data, emb_path


def run(data, emb, out, cache, *extra):
    call_command("simulate", "--data", str(data), "--budget", "60", "--wave-size", "20", "--seed", "0",
                 "--out", str(out), "--embeddings", str(emb), "--embedding-cache", str(cache), "--no-progress",
                 *extra)


def test_simulate_writes_results_and_curve(tmp_path):
    data, emb = write_synthetic(tmp_path)
    out = tmp_path / "out"
    rules = tmp_path / "rules.jsonl"
    rules.write_text('{"label": "rare_thing", "pattern": "rare thing", "kind": "keyword"}\n')
    run(data, emb, out, tmp_path / "cache", "--strategy", "default", "--rules", str(rules))
    result = json.loads((out / "result.json").read_text())
    assert TOP_KEYS <= set(result)
    assert result["strategy"] == "default" and result["seed"] == 0
    assert result["pool"] == 320 and result["test"] == 80 and result["classes"] == 5
    assert [w["wave"] for w in result["waves"]] == [1, 2, 3]
    assert [w["labels"] for w in result["waves"]] == [20, 40, 60]
    for w in result["waves"]:
        assert WAVE_KEYS <= set(w)
        assert 0.0 <= w["macro_f1"] <= 1.0 and w["seconds"] > 0
        assert w["rare_ge1"] <= 1  # the rarest 20 % of 5 classes is one class
    # The rule's matches are in the first wave, so the rare class is found at once.
    assert result["waves"][0]["rare_ge1"] == 1
    assert result["waves"][0]["composition"]["rules"] >= 1
    assert (out / "default-seed0.json").is_file()
    assert (out / "curve.png").stat().st_size > 1000

    run(data, emb, out, tmp_path / "cache", "--strategy", "random")
    assert json.loads((out / "result.json").read_text())["strategy"] == "random"
    assert (out / "random-seed0.json").is_file()
    assert {r["strategy"] for r in load_results(out)} == {"default", "random"}
    full = json.loads((out / "full_pool.json").read_text())
    assert len(full) == 1  # computed once, reused by the second strategy
    # ... and the reused score keeps the C its fit used.
    assert list(full.values())[0]["C"] == 10.0
    assert json.loads((out / "random-seed0.json").read_text())["full_pool_C"] == 10.0
    # A file written before the C was recorded holds the score alone: still read, C unknown.
    key, entry = next(iter(full.items()))
    (out / "full_pool.json").write_text(json.dumps({key: entry["macro_f1"]}))
    run(data, emb, out, tmp_path / "cache", "--strategy", "random")
    again = json.loads((out / "random-seed0.json").read_text())
    assert again["full_pool_macro_f1"] == entry["macro_f1"] and again["full_pool_C"] is None


def test_simulate_holds_out_a_stratified_test_split_without_one(tmp_path):
    data, emb = write_synthetic(tmp_path, with_test=False)
    out = tmp_path / "out"
    run(data, emb, out, tmp_path / "cache", "--strategy", "margin")
    result = json.loads((out / "result.json").read_text())
    assert result["test"] == pytest.approx(80, abs=3)
    assert result["pool"] + result["test"] == 400


def test_simulate_bad_input_names_file_and_line(tmp_path):
    data, emb = write_synthetic(tmp_path)
    lines = data.read_text().splitlines()
    lines[6] = '{"text": "no label here"}'
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError, match=r"bad.jsonl, line 7, field 'label': missing or empty"):
        run(bad, emb, tmp_path / "out", tmp_path / "cache")
    short = tmp_path / "short.npy"
    np.save(short, np.zeros((10, 384), dtype=np.float32))
    with pytest.raises(CommandError, match=r"shape \(10, 384\), expected \(400, d\)"):
        run(data, short, tmp_path / "out", tmp_path / "cache")
    rules = tmp_path / "rules.json"
    rules.write_text('[{"label": "lost_card", "pattern": "(unclosed", "kind": "regex"}]')
    with pytest.raises(CommandError, match=r"rules.json, item 1, field 'pattern': invalid regular expression"):
        run(data, emb, tmp_path / "out", tmp_path / "cache", "--rules", str(rules))


def test_humanise_and_rarest_classes():
    assert sim.humanise("card_arrival") == "card arrival"
    assert sim.humanise("negative:Customer Service Issue") == "negative customer service issue"
    pool = np.array(["a"] * 10 + ["b"] * 3 + ["c"] * 1 + ["d"] * 5 + ["e"] * 7)
    assert rarest_classes(pool) == ["c"]


TREC_CAP = 80  # train rows kept per label: 2335 of the 5452, every label kept, the tail (4 to 80 rows) whole


def trec_subset(shared_datasets, vectors_path, folder):
    """TREC with every test row and the first TREC_CAP train rows of each label (file order), and
    the matching rows of its cached vectors: the long tail and all 50 labels stay, and the full-pool
    fit and each retrain's self-training cost less than half of the whole pool's."""
    kept, per_label = [], {}
    lines = (shared_datasets / "trec.jsonl").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        row = json.loads(line)
        if row["split"] != "test":
            per_label[row["label"]] = per_label.get(row["label"], 0) + 1
            if per_label[row["label"]] > TREC_CAP:
                continue
        kept.append(i)
    data, emb = folder / "trec.jsonl", folder / "trec.npy"
    data.write_text("".join(lines[i] + "\n" for i in kept), encoding="utf-8")
    vectors = np.load(vectors_path)
    assert len(vectors) == len(lines)
    np.save(emb, vectors[kept])
    return data, emb


@pytest.mark.datasets
def test_simulate_trec_short(shared_datasets, dataset_vectors, tmp_path):
    data, emb = trec_subset(shared_datasets, dataset_vectors("trec"), tmp_path)
    out = tmp_path / "trec"
    call_command("simulate", "--data", str(data), "--budget", "300", "--wave-size", "100",
                 "--strategy", "default", "--seed", "0", "--out", str(out), "--embeddings", str(emb),
                 "--embedding-cache", str(tmp_path / "cache"), "--no-progress")
    result = json.loads((out / "result.json").read_text())
    assert TOP_KEYS <= set(result)
    assert result["pool"] == 2335 and result["test"] == 500 and result["classes"] == 50
    assert [w["labels"] for w in result["waves"]] == [100, 200, 300]
    assert all(WAVE_KEYS <= set(w) for w in result["waves"])
    assert 0.5 < result["full_pool_macro_f1"] < 0.9
    assert result["waves"][-1]["macro_f1"] > 0.2
    assert result["config"]["hierarchy"] is True
    assert (out / "curve.png").is_file()


def test_simulate_encodes_texts_through_the_cache_without_embeddings(tmp_path):
    # No --embeddings and not a shared dataset: the texts go through the real encoder and the
    # directory cache (a second run reads the cache).
    rows = [("my card has not arrived yet", "card_arrival"), ("where is my new card", "card_arrival"),
            ("I want my money back", "refund_request"), ("please refund the purchase", "refund_request"),
            ("the exchange rate was wrong", "exchange_rate"), ("bad conversion rate applied", "exchange_rate")]
    data = tmp_path / "tiny.jsonl"
    with data.open("w") as fh:
        for i in range(8):
            for text, label in rows:
                fh.write(json.dumps({"text": f"{text} ({chr(97 + i)})", "label": label,
                                     "split": "test" if i == 0 else "train"}) + "\n")
    cache = tmp_path / "cache"
    for _ in range(2):
        call_command("simulate", "--data", str(data), "--budget", "12", "--wave-size", "6", "--strategy", "default",
                     "--out", str(tmp_path / "out"), "--embedding-cache", str(cache), "--no-progress")
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["pool"] == 42 and result["test"] == 6
    assert [w["labels"] for w in result["waves"]] == [6, 12]
    # Label names are close to their texts in MiniLM space: the cold start finds all three labels.
    assert result["waves"][0]["classes_ge1"] == 3
    assert list(cache.glob("*.npz"))


def test_simulate_dev_fraction_evaluates_on_held_out_pool_rows(tmp_path):
    # Tuning mode: a stratified 25 % of the pool is held out as dev; it is never picked, the test
    # rows are not used, and the full-pool score is cached separately from the test one.
    data, emb = write_synthetic(tmp_path)
    out = tmp_path / "out"
    run(data, emb, out, tmp_path / "cache", "--strategy", "default", "--dev-fraction", "0.25")
    result = json.loads((out / "result.json").read_text())
    assert result["evaluated_on"] == "dev" and result["test"] == 80
    assert result["pool"] + result["dev"] == 320
    assert result["dev"] == pytest.approx(80, abs=3)
    run(data, emb, out, tmp_path / "cache", "--strategy", "random")
    assert json.loads((out / "result.json").read_text())["evaluated_on"] == "test"
    assert len(json.loads((out / "full_pool.json").read_text())) == 2
    with pytest.raises(CommandError, match="--dev-fraction must be in"):
        run(data, emb, out, tmp_path / "cache", "--dev-fraction", "1.5")


def test_simulate_self_trains_on_the_unlabeled_pool_unless_told_not_to(tmp_path):
    data, emb = write_synthetic(tmp_path)
    out = tmp_path / "out"
    run(data, emb, out, tmp_path / "cache", "--strategy", "random")
    waves = json.loads((out / "result.json").read_text())["waves"]
    assert all(w["pseudo_labeled"] > 0 for w in waves)  # the unlabeled pool rows, never the test rows
    run(data, emb, out, tmp_path / "cache", "--strategy", "random", "--train", '{"self_training": false}')
    result = json.loads((out / "result.json").read_text())
    assert result["config"]["train_options"] == {"self_training": False}
    assert all(w["pseudo_labeled"] == 0 for w in result["waves"])
    # Train options key the cached full-pool score apart.
    assert len(json.loads((out / "full_pool.json").read_text())) == 2
    with pytest.raises(CommandError, match="--train: unknown training option"):
        run(data, emb, out, tmp_path / "cache", "--train", '{"self_train": false}')
    with pytest.raises(CommandError, match="--train: "):
        run(data, emb, out, tmp_path / "cache", "--train", "[1]")


def test_dev_split_is_stratified_disjoint_and_leaves_test_alone():
    labels = np.array(["a"] * 50 + ["b"] * 20 + ["d"] * 9 + ["c"] * 1)
    data = sim.Dataset(path="x", texts=[""] * len(labels), labels=labels.astype(object), coarse=None,
                       sources=np.full(len(labels), "", dtype=object), is_test=np.arange(len(labels)) % 10 == 0)
    pool, test = split_pool_test(data, 0)
    kept, dev = split_pool_dev(data, pool, 0, 0.2)
    assert set(kept) | set(dev) == set(pool) and not set(kept) & set(dev) and not set(dev) & set(test)
    counts = {lab: int((labels[dev] == lab).sum()) for lab in "abcd"}
    assert counts == {"a": 9, "b": 4, "c": 0, "d": 2}  # round(0.2 * n) per label; a single row stays
    again, dev2 = split_pool_dev(data, pool, 0, 0.2)
    assert np.array_equal(dev, dev2) and not np.array_equal(dev, split_pool_dev(data, pool, 1, 0.2)[1])


def test_any_split_name_but_test_forms_the_pool_and_the_summary_says_so(tmp_path, capsys):
    data, emb = write_synthetic(tmp_path)
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    for i, row in enumerate(rows):
        if row["split"] == "train" and i % 2:
            row["split"] = "val"  # some pool rows under another name
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run(data, emb, tmp_path / "out", tmp_path / "cache")
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["pool"] == 320 and result["pool_splits"] == ["train", "val"]
    out = capsys.readouterr().out
    assert "pool = rows of split(s) train, val" in out
    assert "95% of full pool at" in out or "95% of full pool not reached" in out
    assert "None" not in out
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "a", "label": "x", "split": 3}) + "\n")
    with pytest.raises(CommandError, match=r"line 1, field 'split': 3 is not a split name"):
        run(bad, emb, tmp_path / "out2", tmp_path / "cache")


def test_simulate_trains_on_label_names_only_when_the_prior_may_be_used(tmp_path):
    data, emb = write_synthetic(tmp_path)
    out = tmp_path / "out"
    run(data, emb, out, tmp_path / "cache", "--strategy", "random", "--train", '{"label_prior": "on"}')
    waves = json.loads((out / "result.json").read_text())["waves"]
    assert waves[0]["label_prior_rows"] > 0  # 20 labels over 5 classes: some class has fewer than 5
    run(data, emb, out, tmp_path / "cache", "--strategy", "random", "--train", '{"label_prior": "off"}')
    assert all(w["label_prior_rows"] == 0 for w in json.loads((out / "result.json").read_text())["waves"])


def test_a_simulated_retrain_weighs_the_prior_by_evidence_under_the_default_setting():
    from learner.simulation.pool import SimPool, train_simulated_model
    from learner.training import TrainConfig

    rng = np.random.default_rng(2)
    names = ["a", "b", "c", "d"]
    centres = rng.standard_normal((4, 16))
    y = np.repeat(np.arange(4), [30, 30, 30, 3])
    X = (centres[y] + 0.5 * rng.standard_normal((len(y), 16))).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    pool = SimPool(item_ids=np.arange(len(y)), texts=[f"text {i:04d}" for i in range(len(y))],
                   sources=np.array(["s"] * len(y)), embeddings=X, label_names=names,
                   label_vectors=(centres / np.linalg.norm(centres, axis=1, keepdims=True)).astype(np.float32))
    rows = np.arange(len(y))
    labels = np.array(names, dtype=object)[y]
    auto = train_simulated_model(pool, rows, labels, config=TrainConfig(self_training=False), version=1)
    assert auto.report["label_prior_choice"]["prior_rows"] == 1  # "d" has 3 labeled rows: the vectors came through
    off = train_simulated_model(pool, rows, labels, config=TrainConfig(self_training=False, label_prior="off"),
                                version=1)
    assert off.report["label_prior_choice"] is None and off.report["label_prior"] is None


def test_label_vectors_for_file_embeddings_do_not_depend_on_the_product_backend(tmp_path, settings):
    # Item embeddings from a file (bench/embed_datasets.py: torch) get label vectors through torch,
    # uncached, whichever backend the product's "auto" encoder would pick: that pick follows a speed
    # check when a checkout first builds its ONNX copy, and ONNX vectors differ from torch's in the
    # last bits, enough to send a run down another path through the label-name prior.
    from labeling.modeling.management.commands.simulate import Command

    data, _ = write_synthetic(tmp_path, n=40)
    loaded = sim.load_jsonl(data)
    settings.LONGTAIL_ARTIFACT_DIR = tmp_path / "artifacts"
    vectors = {}
    for backend in ("onnx", "torch"):
        settings.LONGTAIL_ENCODER_BACKEND = backend
        vectors[backend] = Command().label_vectors(loaded, tmp_path / f"cache-{backend}", 384, encoded_here=False)
        # what the product itself encodes with under that setting
        vectors[backend + " product"] = Command().label_vectors(loaded, tmp_path / f"cache-{backend}-p", 384,
                                                                 encoded_here=True)
    assert np.array_equal(vectors["onnx"], vectors["torch"])
    assert not np.array_equal(vectors["onnx product"], vectors["torch product"])  # the difference it removes
    assert np.allclose(vectors["onnx product"], vectors["torch"], atol=1e-4)
