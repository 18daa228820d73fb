"""``manage.py simulate``: files that are not UTF-8 are named with their line, a results folder that
cannot be one and a damaged full-pool cache are refused before any work, NaN and infinity are no
option values; a run into a folder with a good cache still uses it."""
import json

import pytest
from django.core.management.base import CommandError

from learner.simulation import DataError, load_jsonl
from tests.simulate_inputs import make_inputs, simulate


@pytest.fixture
def inputs(tmp_path, settings):
    return make_inputs(tmp_path, settings)


def test_load_jsonl_names_the_line_that_is_not_utf8(tmp_path):
    """The learner's own error (no Django), with the line: two good lines, then cp1252 bytes."""
    path = tmp_path / "mixed.jsonl"
    good = '{"text": "fine", "label": "a"}\n'
    path.write_bytes((good * 2).encode() + '{"text": "naïve €", "label": "b"}\n'.encode("cp1252"))
    with pytest.raises(DataError, match=r"mixed\.jsonl, line 3: bytes that are not UTF-8.*save the file as UTF-8"):
        load_jsonl(path)


def test_rules_not_utf8_names_option_file_and_line(inputs):
    tmp, data, vectors = inputs
    rules = tmp / "rules.jsonl"
    rules.write_bytes(b'{"label": "alpha", "pattern": "ok"}\n' + '{"label": "beta", "pattern": "ça"}\n'.encode("latin-1"))
    with pytest.raises(CommandError, match=r"--rules .*rules\.jsonl, line 2: bytes that are not UTF-8"):
        simulate(data, vectors, tmp / "out", "--rules", str(rules))


def test_out_below_a_file_is_refused_before_anything_is_written(inputs):
    tmp, data, vectors = inputs
    (tmp / "plain").write_text("x", encoding="utf-8")
    with pytest.raises(CommandError, match=r"--out .*plain is a file, not a folder"):
        simulate(data, vectors, tmp / "plain" / "results")


@pytest.mark.parametrize("content", ['{"key": "text"}', '{"key": {"C": 1}}', "[]"])
def test_full_pool_cache_of_the_wrong_shape_is_refused_before_the_run(inputs, content):
    """Valid JSON but not the cache's shape: refused naming the file before the simulation, and no
    result is written (the refusal came first)."""
    tmp, data, vectors = inputs
    out = tmp / "out"
    out.mkdir()
    (out / "full_pool.json").write_text(content, encoding="utf-8")
    with pytest.raises(CommandError, match=r"full_pool\.json: not the full-pool cache"):
        simulate(data, vectors, out)
    assert not (out / "result.json").exists()
    assert (out / "full_pool.json").read_text(encoding="utf-8") == content  # left for the user to look at


def test_full_pool_json_that_is_a_folder_is_refused(inputs):
    tmp, data, vectors = inputs
    out = tmp / "out"
    (out / "full_pool.json").mkdir(parents=True)
    with pytest.raises(CommandError, match=r"full_pool\.json: cannot be read"):
        simulate(data, vectors, out)


def test_a_good_cache_is_used_and_kept(inputs):
    """Two runs into one folder: the second reads the first's cache entry (the old bare-number form
    of another entry stays readable and is kept)."""
    tmp, data, vectors = inputs
    out = tmp / "out"
    out.mkdir()
    (out / "full_pool.json").write_text(json.dumps({"older|run": 0.5}), encoding="utf-8")
    simulate(data, vectors, out)
    simulate(data, vectors, out, "--strategy", "random")
    cache = json.loads((out / "full_pool.json").read_text(encoding="utf-8"))
    assert cache["older|run"] == 0.5
    assert len(cache) == 2
    assert (out / "default-seed0.json").is_file() and (out / "random-seed0.json").is_file()


@pytest.mark.parametrize("option, value", [("--random-share", "inf"), ("--random-share", "-nan"),
                                           ("--dev-fraction", "nan"), ("--random-share", "ten")])
def test_option_values_that_are_no_finite_number(inputs, option, value):
    tmp, data, vectors = inputs
    with pytest.raises(CommandError, match=option):
        simulate(data, vectors, tmp / "out", option, value)
    assert not (tmp / "out").exists()
