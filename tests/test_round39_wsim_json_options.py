"""``manage.py simulate --planner / --train``: every field a person can type is checked at the start
(unknown name, type, range, NaN / Infinity) and refused with the option and the field named, before
the data is read or anything is written; the project settings the preset passes itself
(label_cap_share, band, source_quotas) are taken from --planner instead of crashing the first wave."""
import json

import pytest
from django.core.management import CommandError

from learner.simulation import SimConfig
from learner.simulation.presets import planner_config
from tests.test_simulate import run, write_synthetic

REFUSED = [
    ("--planner", '{"band": [0.7, 0.3]}', "band"),
    ("--planner", '{"band": [0.2, NaN]}', "band"),
    ("--planner", '{"label_cap_share": NaN}', "label_cap_share"),
    ("--planner", '{"label_cap_share": 0}', "label_cap_share"),
    ("--planner", '{"rare_rank": "loudest"}', "rare_rank"),
    ("--planner", '{"diversity_sample": "100"}', "diversity_sample"),
    ("--planner", '{"rare_max_queries": true}', "rare_max_queries"),
    ("--planner", '{"source_quotas": {"web": 2}}', "source_quotas"),
    ("--planner", '{"wave_size": 3}', "wave_size"),
    ("--planner", '[1]', "expected an object"),
    ("--train", '{"C": Infinity}', "C"),
    ("--train", '{"epochs": "10"}', "epochs"),
    ("--train", '{"lr": NaN}', "lr"),
    ("--train", '{"self_training": 1}', "self_training"),
    ("--train", '{"cv_folds": 1}', "cv_folds"),
    ("--train", '{"max_iter": 0}', "max_iter"),
    ("--train", '{"penalty_factors": [2, -1]}', "penalty_factors"),
    ("--train", '{"head": "forest"}', "head"),
]


@pytest.mark.parametrize(("option", "value", "field"), REFUSED)
def test_a_bad_field_is_refused_naming_option_and_field_before_reading_the_data(tmp_path, option, value, field):
    out = tmp_path / "out"
    # A data file that does not exist: the option must be refused before the data is even read.
    with pytest.raises(CommandError) as refused:
        run(tmp_path / "missing.jsonl", tmp_path / "missing.npy", out, tmp_path / "cache", option, value)
    message = str(refused.value)
    assert message.startswith(f"{option}: "), message
    assert field in message, message
    assert not out.exists()


def test_planner_fields_the_preset_also_sets_override_it():
    sim = SimConfig(planner_options={"label_cap_share": 0.3, "band": [0.2, 0.8], "source_quotas": {"web": 0.5},
                                     "rare_rank": "probability"})
    config = planner_config(sim, first_wave=False, wave_size=20)
    assert config.label_cap_share == 0.3
    assert config.band == (0.2, 0.8)
    assert config.source_quotas == {"web": 0.5}
    assert config.rare_rank == "probability"
    assert config.wave_size == 20 and config.random_share == sim.random_share


def test_a_run_with_the_overlapping_planner_fields_and_checked_train_fields_completes(tmp_path):
    data, emb = write_synthetic(tmp_path, n=120)
    out = tmp_path / "out"
    run(data, emb, out, tmp_path / "cache", "--budget", "40", "--planner",
        '{"label_cap_share": 0.5, "band": [0.25, 0.75], "source_quotas": {}}',
        "--train", '{"C": 5, "epochs": 10, "device": null, "threshold_mix": "labeled", "penalty_factors": [0.5, 2]}')
    result = json.loads((out / "result.json").read_text())
    assert [w["labels"] for w in result["waves"]] == [20, 40]
    assert result["config"]["planner_options"]["label_cap_share"] == 0.5
