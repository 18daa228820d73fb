"""learner.text_fold and the rules built on it: the piecewise fold (with raw offsets) equals the
search's whole-text fold, keyword matches map back to the raw characters, regex rules match the raw
text, and a regex's RE2 program size is capped on request."""
import random
import time
import unicodedata

import pytest

from learner.rules import MAX_PROGRAM_SIZE, KeywordMatcher, compile_rule, match_rules, rule_spans
from learner.text_fold import COMPOSING_STARTERS, fold_with_offsets, search_form

FREEZE = ".{0,1000}.{0,1000}.{0,1000}z"

# Characters that fold in every way the fold has: combining marks (in and out of U+0300-U+036F),
# the grapheme joiner the accent step removes, Hangul jamo that compose, halfwidth kana and their
# voiced marks, Indic and Tibetan vowel parts, ligatures, fullwidth letters, invisible characters.
TRICKY = ("ae iouKk.-\u00e9\u0301\u0323\u0342\u0344\u034f\u0360\u0483\u05b0\u093c\u09bc\u3099\u309a"
          "\u1100\u1112\u1161\u1175\u11a8\u11c2\uac00\uac01\uff76\uff9e\uff9f\u0f40\u0f71\u0f72\u0f73\u0f80"
          "\u0fb5\u09c7\u09be\u09d7\u0b47\u0b3e\u0b56\u0b57\ufb01\u2460\u1e9b\u212b\u01f1\u0385\u1fed"
          "\uff52\uff45\u200b\u200d\u00ad\ufe0f\u2060\U00011131\U00011127\U0001133e\U00011347\U000e0041")


def test_the_composing_starters_are_unicodes():
    derived = set()
    for code in range(0x110000):
        decomposition = unicodedata.decomposition(chr(code))
        if decomposition and not decomposition.startswith("<"):
            derived.update(chr(int(part, 16)) for part in decomposition.split()[1:]
                           if unicodedata.combining(chr(int(part, 16))) == 0)
    assert derived <= COMPOSING_STARTERS, sorted(map(hex, map(ord, derived - COMPOSING_STARTERS)))


@pytest.mark.parametrize("text", [
    "\u0fad\u09f8\u0342\u09e9\u0344\u11da\u117e\u3099\u034f\u09bc\u11fc",  # U+034F removed, then reordering
    "\u0b4d\u09b4\u1118\u110c\u034f\u0360\u1162\u0fb6\u0f60\u09ea",  # jamo compose once U+034F is gone
    "\uff76\uff9e", "e\u0301", "\u1100\u1161\u11a8", "x\u200b\u0301y", "\u0b47\u0b3e", "",
])
def test_the_piecewise_fold_is_the_whole_fold(text):
    assert fold_with_offsets(text).text == search_form(text)


def test_the_piecewise_fold_is_the_whole_fold_on_random_texts():
    rng = random.Random(35)
    for _ in range(30000):
        text = "".join(rng.choice(TRICKY) for _ in range(rng.randint(1, 10)))
        folded = fold_with_offsets(text)
        assert folded.text == search_form(text), ascii(text)
        for j in range(len(folded.text)):
            start, end = folded.raw_span(j, j + 1)
            assert 0 <= start < end <= len(text)


def test_a_20000_character_text_folds_fast():
    text = ("Le café est fermé, ｒｅｆｕｎｄ pass\u200bword. Привет, как дела? " * 400)[:20000]
    started = time.perf_counter()
    assert fold_with_offsets(text).text == search_form(text)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("pattern,text,raw", [
    ("password", "reset pass\u200bword now", "pass\u200bword"),
    ("refund", "ｒｅｆｕｎｄ please", "ｒｅｆｕｎｄ"),
    ("café", "le cafe\u0301 est", "cafe\u0301"),
    ("cafe", "le CAFÉ est", "CAFÉ"),
    ("ﬁx it", "please fix it", "fix it"),
    ("password", "no password here", "password"),
])
def test_keyword_spans_cover_the_raw_characters(pattern, text, raw):
    matcher = compile_rule("keyword", pattern)
    assert isinstance(matcher, KeywordMatcher) and matcher.search(text)
    assert [text[a:b] for a, b in rule_spans(matcher, text)] == [raw]


def test_keyword_rules_fold_in_planning_too():
    texts = ["pass\u200bword", "password", "word", "ｐａｓｓｗｏｒｄ!", "passwords"]
    rows = match_rules([("login", compile_rule("keyword", "password")), ("other", compile_rule("keyword", "word"))],
                       texts, {"login": 0, "other": 1})
    assert rows[0].tolist() == [0, 1, 3] and rows[1].tolist() == [2]


def test_regex_rules_match_the_raw_text_as_typed():
    assert compile_rule("regex", "password").search("pass\u200bword") is None
    assert [span for span in rule_spans(compile_rule("regex", " id "), "my id is")] == [(2, 6)]
    assert compile_rule("regex", " id ").search("idea") is None


def test_program_size_cap():
    with pytest.raises(ValueError, match=r"27,005 instructions, over the limit of 5,000"):
        compile_rule("regex", FREEZE, max_program_size=MAX_PROGRAM_SIZE)
    assert compile_rule("regex", FREEZE).programsize == 27005  # no cap asked: stored rules still load
    alternation = "(?:" + "|".join(f"word{i:03d}x" for i in range(200)) + ")"
    assert compile_rule("regex", alternation, max_program_size=MAX_PROGRAM_SIZE).programsize < MAX_PROGRAM_SIZE
    # a keyword is a literal phrase: never capped (500 characters of Greek: ~4,800)
    assert compile_rule("keyword", "αβγδεζηθ " * 55, max_program_size=100)
