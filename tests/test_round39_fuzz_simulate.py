"""``manage.py simulate`` with hostile files and arguments: each is a CommandError naming the file or
option at fault, never a traceback (UnicodeDecodeError, FileExistsError, JSONDecodeError, ValueError)."""

import pytest
from django.core.management.base import CommandError

from tests.simulate_inputs import make_inputs, simulate


@pytest.fixture
def inputs(tmp_path, settings):
    return make_inputs(tmp_path, settings)


def test_data_file_not_utf8(inputs):
    tmp, _, vectors = inputs
    data = tmp / "latin1.jsonl"
    data.write_bytes('{"text": "café", "label": "a"}\n'.encode("latin-1"))
    with pytest.raises(CommandError, match="latin1.jsonl"):
        simulate(data, vectors, tmp / "out")


def test_rules_file_not_utf8(inputs):
    tmp, data, vectors = inputs
    rules = tmp / "rules.json"
    rules.write_bytes('[{"label": "alpha", "pattern": "café"}]'.encode("latin-1"))
    with pytest.raises(CommandError, match="rules.json"):
        simulate(data, vectors, tmp / "out", "--rules", str(rules))


def test_out_is_an_existing_file(inputs):
    tmp, data, vectors = inputs
    out = tmp / "result"
    out.write_text("not a folder", encoding="utf-8")
    with pytest.raises(CommandError, match="--out"):
        simulate(data, vectors, out)


@pytest.mark.parametrize("content", ["garbage", "[1, 2]"])
def test_unreadable_full_pool_cache_in_out(inputs, content):
    """--out DIR keeps DIR/full_pool.json between runs; a damaged one (a crash, an edit) made every
    later run into that folder a traceback at the very end, after the whole simulation."""
    tmp, data, vectors = inputs
    out = tmp / "out"
    out.mkdir()
    (out / "full_pool.json").write_text(content, encoding="utf-8")
    try:
        simulate(data, vectors, out)
    except CommandError as refused:
        assert "full_pool.json" in str(refused)


def test_random_share_not_a_number(inputs):
    tmp, data, vectors = inputs
    with pytest.raises(CommandError, match="--random-share"):
        simulate(data, vectors, tmp / "out", "--random-share", "nan")
