"""manage.py simulate refuses planner settings a project could not have, naming the option, with
the product's own words, before it encodes or writes anything: a random share of 2 planned waves
of 10 for a wave size of 5, and a mix of {"rare": 2} ran as if it were a share."""
import json

import pytest
from django.core.management import CommandError, call_command

from tests.test_simulate import run, write_synthetic

REFUSED = [
    (["--random-share", "2"], "--random-share: Random share must be between 0 and 1; got 2."),
    (["--random-share", "-0.1", "--mix", '{"rare": 1, "diversity": 0.1}'],
     "--random-share: Random share must be between 0 and 1; got -0.1."),
    (["--mix", '{"rare": 2}'], "--mix: The share of rare must be between 0 and 1; got 2."),
    (["--mix", '{"rare": 0.5}'], "--mix: Strategy shares plus the random share must add up to 1.0 (±0.01); "
                                 "they add up to 0.600."),
    (["--mix", '{"nope": 0.9}'], "--mix: Unknown strategies: nope"),
    (["--random-share", "0.5"], "--random-share: Strategy shares plus the random share must add up to 1.0"),
    (["--rare-threshold", "0"], "--rare-threshold: Rare threshold must be at least 1; got 0."),
    (["--cold-start-mix", '{"rules": 3}'], "--cold-start-mix: the share of rules must be between 0 and 1; got 3."),
    (["--cold-start-mix", '{"nope": 1}'], "--cold-start-mix: unknown strategy 'nope'"),
    (["--cold-start-mix", '{"rules": 0}'], "--cold-start-mix: give at least one strategy a share above 0."),
]


@pytest.mark.parametrize(("extra", "message"), REFUSED)
def test_bad_planner_options_are_refused_with_the_option_named(tmp_path, extra, message):
    data, emb = write_synthetic(tmp_path, n=60)
    out = tmp_path / "out"
    with pytest.raises(CommandError) as err:
        run(data, emb, out, tmp_path / "cache", *extra)
    assert message in str(err.value)
    assert not out.exists()  # refused before anything is written


def test_the_wave_size_is_kept_and_a_valid_mix_runs(tmp_path):
    data, emb = write_synthetic(tmp_path, n=120)
    out = tmp_path / "out"
    call_command("simulate", "--data", str(data), "--budget", "10", "--wave-size", "5", "--seed", "0",
                 "--out", str(out), "--embeddings", str(emb), "--embedding-cache", str(tmp_path / "cache"),
                 "--no-progress", "--random-share", "0.2", "--mix", '{"rare": 0.4, "uncertainty": 0.4}')
    result = json.loads((out / "result.json").read_text())
    assert [w["labels"] for w in result["waves"]] == [5, 10]
