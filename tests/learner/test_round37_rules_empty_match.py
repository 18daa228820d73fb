"""A regular expression that can match zero characters is refused when a rule is saved or
previewed (compile_rule with max_program_size): "q*" or "(refund)?" matched every text of the pool.
A stored rule is read without the check, as before."""
import pytest

from learner.rules import MAX_PROGRAM_SIZE, compile_rule


@pytest.mark.parametrize("pattern, where", [
    ("q*", "the empty text"), ("(refund)?", "the empty text"), ("a|", "the empty text"), ("|refund", "the empty text"),
    ("^$", "the empty text"), (r"\b", "the text “a”"), (r"refund|\b", "the text “a”"), (r"\B", "the empty text"),
    ("(?:chargeback)*", "the empty text"), ("x{0,3}", "the empty text"),
])
def test_a_pattern_that_can_match_nothing_is_refused_when_saved(pattern, where):
    with pytest.raises(ValueError) as refused:
        compile_rule("regex", pattern, max_program_size=MAX_PROGRAM_SIZE)
    assert f"can match zero characters (as it does in {where})" in str(refused.value)
    assert "make at least one character required" in str(refused.value)
    compile_rule("regex", pattern)  # a stored rule still loads


@pytest.mark.parametrize("pattern", ["refund", r"\brefund\b", "x+", r"\d{4}-\d\d", "a*b", "(refund)?s", "^re"])
def test_patterns_that_need_a_character_are_kept(pattern):
    assert compile_rule("regex", pattern, max_program_size=MAX_PROGRAM_SIZE).search("re: refund, refunds of xx, 2024-01 ab")


def test_keywords_never_match_nothing():
    assert compile_rule("keyword", "refund", max_program_size=MAX_PROGRAM_SIZE).search("") is None
