"""Equal quotas and an odd wave size: the simulated waves split their slots over the sources as the
product's waves of the same numbers do (the odd slot goes to each source in turn by wave number:
labeling.waves.services plans wave w with PlannerConfig.wave_number = w, and so must
learner.simulation.run). All of each wave random, so a wave's split follows from the design alone,
not from which items the seeds pick. PostgreSQL and the real planner for the product; the
simulation's own loop (run_simulation) for the other side."""
from collections import Counter

import numpy as np
import pytest

from labeling.waves import services as waves
from labeling.waves.models import WaveItem
from learner.simulation.data import Dataset
from learner.simulation.presets import SimConfig
from learner.simulation.run import run_simulation

from .test_loop_helpers import build_project

pytestmark = pytest.mark.django_db

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]


def _simulated_splits(n_waves: int) -> dict[int, dict[str, int]]:
    rng = np.random.default_rng(0)
    n = 80
    names = ["billing", "login", "fraud", "refund"]
    labels = np.array(names * (n // 4), dtype=object)
    sources = np.array(["chat", "email"] * (n // 2), dtype=object)
    centers = rng.standard_normal((4, 16))
    emb = np.stack([centers[names.index(y)] + 0.5 * rng.standard_normal(16) for y in labels]).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    texts = ["ticket " + " ".join(WORDS[int(d)] for d in str(i)) for i in range(n)]
    data = Dataset(path="tied.jsonl", texts=texts, labels=labels, coarse=None, sources=sources,
                   is_test=np.zeros(n, bool))
    sim = SimConfig(strategy="default", budget=5 * n_waves, wave_size=5, seed=3, random_share=1.0, strategy_mix={},
                    cold_start_mix={"diversity": 1.0}, source_quotas={"chat": 0.5, "email": 0.5})
    result = run_simulation(data, emb, sim, progress=False)
    out: dict[int, Counter] = {}
    for row, wave in zip(result["labeled_rows"], result["labeled_wave"], strict=True):
        out.setdefault(int(wave), Counter())[str(sources[row])] += 1
    return {wave: dict(split) for wave, split in out.items()}


def test_a_simulated_wave_splits_tied_quotas_as_the_products_wave_of_that_number(project_factory):
    project, _ = build_project(project_factory, slug="tieturn", n_items=40, n_labeled=0, wave_size=5,
                               random_share=1.0, double_label_share=0.0, batch_size=5)
    assert sorted(project.sources.values_list("name", "quota")) == [("chat", 0.5), ("email", 0.5)]
    product = {}
    for number in (1, 2, 3):
        wave = waves.plan_next_wave(project)
        assert wave.number == number
        product[number] = dict(Counter(WaveItem.objects.filter(wave=wave).values_list("item__source__name", flat=True)))
        waves.open_wave(wave)
        waves.close_wave(wave)
    assert product[1] != product[2], product  # the odd slot changed hands
    assert _simulated_splits(3) == product
