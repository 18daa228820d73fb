"""Equal source quotas over a simulated run: the odd slot of a wave goes to each source in turn.

docs/simulation.md ("Source targets"): where equal remainders compete for fewer slots than they
are, they take them in turn by the wave's number, "so over the waves equal quotas get equal
shares"; the product plans wave w with PlannerConfig.wave_number = w. ``simulate`` (the tool that
tunes the product's settings, whose waves must be the waves the product plans: tests/test_parity.py)
runs its waves through learner.simulation.run.run_simulation. Two sources at 0.5 each, waves of 5,
all of each wave random: over 4 waves each source gets 10 picks. No database: the learner alone."""
from collections import Counter

import numpy as np

from learner.simulation.data import Dataset
from learner.simulation.presets import SimConfig
from learner.simulation.run import run_simulation

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]


def _words(i: int) -> str:
    return "ticket " + " ".join(WORDS[int(d)] for d in str(i))  # letters: digit runs are masked in duplicate keys


def test_simulated_waves_give_equal_quotas_the_odd_slot_in_turn():
    rng = np.random.default_rng(0)
    n = 400
    labels = np.array(["billing", "login", "fraud", "refund"] * (n // 4), dtype=object)
    sources = np.array(["chat", "mail"] * (n // 2), dtype=object)
    centers = rng.standard_normal((4, 16))
    index = {name: k for k, name in enumerate(["billing", "login", "fraud", "refund"])}
    emb = np.stack([centers[index[name]] + 0.5 * rng.standard_normal(16) for name in labels]).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    data = Dataset(path="tied.jsonl", texts=[_words(i) for i in range(n)], labels=labels, coarse=None,
                   sources=sources, is_test=np.zeros(n, bool))
    sim = SimConfig(strategy="default", budget=20, wave_size=5, seed=1, random_share=1.0, strategy_mix={},
                    cold_start_mix={"diversity": 1.0}, source_quotas={"chat": 0.5, "mail": 0.5})
    result = run_simulation(data, emb, sim, progress=False)
    per_wave = {}
    for row, wave in zip(result["labeled_rows"], result["labeled_wave"], strict=True):
        per_wave.setdefault(wave, Counter())[str(sources[row])] += 1
    assert sorted(per_wave) == [1, 2, 3, 4], per_wave
    totals = sum(per_wave.values(), Counter())
    assert totals["chat"] == totals["mail"] == 10, (
        f"over 4 simulated waves of 5 the equal quotas chat 0.5 / mail 0.5 got {dict(totals)}; per wave "
        f"{ {w: dict(c) for w, c in sorted(per_wave.items())} } (the product gives the odd slot in turn by wave number)")
