"""Keyword highlights mark every occurrence, also when two are separated by a single non-word
character: RE2 has no lookarounds, so the keyword pattern consumes the character after the phrase,
and resuming past it used to leave the next occurrence without its leading boundary."""
from learner.rules import compile_rule, match_rules, rule_spans


def _marked(pattern: str, text: str) -> list[str]:
    return [text[a:b] for a, b in rule_spans(compile_rule("keyword", pattern), text)]


def test_occurrences_one_space_or_comma_apart_are_all_marked():
    assert list(rule_spans(compile_rule("keyword", "refund"), "refund refund refund")) == [(0, 6), (7, 13), (14, 20)]
    assert list(rule_spans(compile_rule("keyword", "GDPR"), "GDPR GDPR request")) == [(0, 4), (5, 9)]
    assert list(rule_spans(compile_rule("keyword", "chargeback"), "chargeback chargeback, chargeback")) == [
        (0, 10), (11, 21), (23, 33)]
    assert _marked("refund", "refund,refund;refund") == ["refund"] * 3
    assert _marked("a b", "a b a b") == ["a b", "a b"]


def test_whole_words_only_still():
    # the boundary a resumed search may use is a real non-word character, never the resume point
    assert _marked("gdpr", "xGDPR GDPRx GDPR") == ["GDPR"]
    assert _marked("card", "cardcard card") == ["card"]
    assert _marked("card", "card_card") == []


def test_adjacent_occurrences_in_folded_text_map_to_raw_characters():
    text = "ｒｅｆｕｎｄ ｒｅｆｕｎｄ pass\u200bword password"
    assert _marked("refund", text) == ["ｒｅｆｕｎｄ", "ｒｅｆｕｎｄ"]
    assert _marked("password", text) == ["pass\u200bword", "password"]


def test_matching_counts_each_text_once_whatever_its_occurrences():
    # rule matching asks only whether a text matches: two adjacent occurrences are one matched row
    rows = match_rules([("privacy", compile_rule("keyword", "GDPR"))],
                       ["GDPR GDPR", "no", "a GDPR", "GDPRGDPR"], {"privacy": 0})
    assert rows[0].tolist() == [0, 2]
