"""The full-pool cache of ``manage.py simulate`` (DIR/full_pool.json) is keyed by what the score
depends on: a data file edited in place, or another encoder, is not handed the earlier score."""
import json

import numpy as np
import pytest

from tests.simulate_inputs import make_inputs, simulate

pytestmark = pytest.mark.django_db


def _full(out):
    return json.loads((out / "result.json").read_text(encoding="utf-8"))["full_pool_macro_f1"]


def test_a_data_file_edited_in_place_is_scored_again(tmp_path, settings):
    tmp, data, noise = make_inputs(tmp_path, settings)
    separable = np.load(noise)  # rows alternate alpha / beta: split them on the first dimension
    separable[0::2, 0] += 25.0
    separable[1::2, 0] -= 25.0
    signal = tmp / "separable.npy"
    np.save(signal, separable.astype("float32"))
    shared = tmp / "shared"
    simulate(data, signal, shared)
    assert _full(shared) == 1.0  # the vectors separate the labels as written

    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    shuffled = np.random.default_rng(3).permutation([row["label"] for row in rows])
    data.write_text("".join(json.dumps({**row, "label": str(label)}) + "\n"
                            for row, label in zip(rows, shuffled, strict=True)), encoding="utf-8")
    simulate(data, signal, tmp / "fresh")
    expected = _full(tmp / "fresh")
    assert expected < 1.0
    simulate(data, signal, shared)  # the same command, the same path, the edited file
    assert _full(shared) == expected, "the full-pool score of the file before its edit was reused"


def test_the_key_names_the_encoder(tmp_path, settings):
    tmp, data, vectors = make_inputs(tmp_path, settings)
    simulate(data, vectors, tmp / "out")
    keys = list(json.loads((tmp / "out" / "full_pool.json").read_text(encoding="utf-8")))
    assert len(keys) == 1 and f"encoder={settings.LONGTAIL_MODEL_ID}|" in keys[0], keys
