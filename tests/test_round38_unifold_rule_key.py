"""A keyword rule's twin key (learner.rules.rule_key, which Rule.clean and migration projects 0016
compare) folds exactly the way keyword matching does: two keywords share a key when, and only
when, RE2's case-insensitive match treats their folded phrases alike.

The key is the folded phrase (learner.text_fold.search_form) with str.casefold(). casefold() is
full case folding ("ß" → "ss"), RE2 folds letter by letter, so the two agree only because the fold
has already spelled out every letter whose folding expands. These tests hold that over every code
point, so a fold change (or a Python with a newer Unicode database) that breaks it says so."""
import re2

from learner.rules import _SPACE, compile_rule, rule_key
from learner.text_fold import UNSPACED, search_form

ALL = [chr(i) for i in range(0x110000) if not 0xD800 <= i < 0xE000]


def folded_characters() -> set[str]:
    chars: set[str] = set()
    for char in ALL:
        chars.update(search_form(char))
    return chars


def test_the_key_unites_exactly_the_letters_re2_matches_alike():
    chars = folded_characters()
    # casefold() expands nothing that can be in folded text (it would for "ß", "ẞ", "ﬁ", "İ"...)
    assert sorted(ascii(c) for c in chars if len(c.casefold()) != 1) == []
    cased = sorted(c for c in chars if len({c, c.lower(), c.upper(), c.title(), c.casefold()}) > 1)
    options = re2.Options()
    options.case_sensitive = False
    haystack = "".join(cased)
    differ = []
    for char in cased:
        matched = {m.group() for m in re2.compile(re2.escape(char), options).finditer(haystack)}
        keyed = {other for other in cased if other.casefold() == char.casefold()}
        if matched != keyed:
            differ.append((ascii(char), sorted(map(ascii, matched)), sorted(map(ascii, keyed))))
    assert differ == []
    # a keyword's boundaries depend on its first and last characters' script: no case pair crosses it
    assert [ascii(c) for c in cased if UNSPACED.match(c)] == []


def test_white_space_runs_match_as_the_key_splits_them():
    space = re2.compile(_SPACE)
    assert [hex(ord(c)) for c in ALL if bool(space.fullmatch(c)) != c.isspace()] == []


def test_keywords_with_one_key_match_the_same_texts():
    texts = ["Die Straße ist gesperrt", "Die Strasse ist gesperrt", "DIE STRASSE IST GESPERRT", "DIE STRAẞE",
             "Straßenbahn", "ο κόσμος", "Ο ΚΟΣΜΟΣ", "κοσμοσ", "credit  card", "credit\ncard", "credit card"]
    groups = [["straße", "STRASSE", "Strasse", "STRAẞE"], ["ΚΟΣΜΟΣ", "κόσμος", "κοσμοσ"],
              ["credit card", "credit  card", "Credit\tCard"]]
    for group in groups:
        assert len({rule_key("keyword", k) for k in group}) == 1, group
        found = {k: [t for t in texts if compile_rule("keyword", k).search(t)] for k in group}
        assert len({tuple(v) for v in found.values()}) == 1, found
        assert found[group[0]], group
    assert rule_key("keyword", "straße") != rule_key("keyword", "strase")
    assert rule_key("keyword", "credit card") != rule_key("keyword", "creditcard")
