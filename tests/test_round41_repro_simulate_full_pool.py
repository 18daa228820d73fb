"""``manage.py simulate`` with the same data, seed and options gives the same result whatever an
earlier run left in ``--out``: the full-pool cache (DIR/full_pool.json, "cached per data file, seed
and options", docs/simulation.md) must not hand a run the full-pool score of other embeddings."""
import json

import numpy as np
import pytest

from tests.simulate_inputs import make_inputs, simulate

pytestmark = pytest.mark.django_db


def _result(out):
    return json.loads((out / "result.json").read_text(encoding="utf-8"))


def test_a_run_with_other_embeddings_does_not_reuse_the_full_pool_score_of_the_first(tmp_path, settings):
    tmp, data, noise = make_inputs(tmp_path, settings)  # random vectors: the labels are not separable
    # The same 40 rows with vectors that separate the two labels (alpha / beta alternate, alpha first).
    separable = np.load(noise)
    separable[0::2, 0] += 25.0
    separable[1::2, 0] -= 25.0
    signal = tmp / "separable.npy"
    np.save(signal, separable.astype("float32"))

    simulate(data, signal, tmp / "fresh")
    expected = _result(tmp / "fresh")["full_pool_macro_f1"]

    shared = tmp / "shared"
    simulate(data, noise, shared)  # an earlier run, other embeddings, into the same folder
    simulate(data, signal, shared)  # the very command of the fresh run
    got = _result(shared)["full_pool_macro_f1"]
    assert got == expected, (f"full-pool macro-F1 {got} read from the earlier run's cache, {expected} when run "
                             "into an empty folder: the cache key leaves out --embeddings")
