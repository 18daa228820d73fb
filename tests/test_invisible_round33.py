"""One definition of an invisible character (labeling.items.invisible): format and control
characters plus Unicode's other default-ignorable code points. Label names (look-alikes, names
empty once read, names written out in messages) and item texts (rows with nothing visible) read
characters the same way, and the pattern is the one the search columns' SQL removes."""
import codecs
import importlib
import re

import pytest

from labeling.items.invisible import INVISIBLE, is_invisible, without_invisible
from labeling.items.validation import has_visible_text
from labeling.projects.label_names import label_name_key, written_out

# Characters that show nothing but are neither format (Cf) nor control (Cc): Hangul fillers,
# variation selectors, the combining grapheme joiner, Khmer inherent vowels, Mongolian selectors.
FILLERS = ["\u3164", "\u115f", "\u1160", "\uffa0", "\ufe0f", "\ufe00", "\u034f", "\u17b4", "\u180b",
           "\U000e0100"]


def test_fillers_and_variation_selectors_are_invisible():
    assert [ascii(c) for c in FILLERS if not is_invisible(c)] == []
    assert without_invisible("a\u3164b\ufe0fc\u200bd\x07e") == "abcde"
    # visible letters, marks, spaces and symbols are not
    assert [c for c in "aá\u0301 \u00a0ㄱ가❤" if is_invisible(c)] == []


@pytest.mark.parametrize("name", [*FILLERS, "\u3164\u3164", "\u115f\u1160\ufe0f", " \u3164 "], ids=ascii)
def test_a_name_of_fillers_only_is_empty_as_label_names_read(name):
    assert label_name_key(name) == ""


@pytest.mark.parametrize(("name", "looks_like"), [
    ("a\u3164", "a"), ("\u3164a", "a"), ("bill\uffa0ing", "billing"), ("spam\ufe0f", "spam"),
    ("❤\ufe0f", "❤"), ("a\u034fb", "ab"), ("x\U000e0101", "x"),
    # a mark kept from its letter by an invisible character still composes with it
    ("cafe\u034f\u0301", "café"),
], ids=ascii)
def test_fillers_do_not_tell_label_names_apart(name, looks_like):
    assert label_name_key(name) == looks_like


def test_label_name_keys_keep_inner_whitespace_and_visible_differences():
    """Only invisible characters and variants are set aside: a name key is trimmed, not squeezed."""
    assert label_name_key("  a\u3164 b ") == "a b"
    assert label_name_key("a  b") != label_name_key("a b")
    assert label_name_key("ㄱ") != "" and label_name_key("가") == "가"  # Hangul letters show


@pytest.mark.parametrize(("name", "written"), [
    ("a\u3164", "a\\u3164"),
    ("\u115f\ufe0f", "\\u115f\\ufe0f"),
    ("spam\uffa0", "spam\\uffa0"),
    # beyond the Basic Multilingual Plane: eight digits, so that "1" after the tag reads as a "1"
    ("en\U000e00011", "en\\U000e00011"),
    ("x\U000e0100y", "x\\U000e0100y"),
], ids=ascii)
def test_written_out_spells_every_invisible_character(name, written):
    assert written_out(name) == written


def test_texts_of_unassigned_ignorable_code_points_only_have_nothing_visible():
    """Unicode keeps these code points ignorable (shown as nothing) for characters not assigned yet,
    and the search columns remove them: a text of them only shows nothing."""
    assert [ascii(t) for t in ("\u2065", "\ufff0", "\ufff8", "\U000e0080", "\U000e0fff", " \u2065\ufff3\n")
            if has_visible_text(t)] == []
    # whitespace still counts as blank in a text, and one visible character is enough
    assert not has_visible_text("\u3164 \u2028\ufe0f\t")
    assert has_visible_text("\u3164 a") and has_visible_text("\u2065x")


def test_the_pattern_is_the_one_the_search_columns_remove_in_sql():
    """The folded search columns (migration 0007) remove exactly the characters of INVISIBLE; a
    query folded with another set would miss items."""
    migration = importlib.import_module("labeling.items.migrations.0007_item_search_text")
    sql_class = re.search(r"'(\[\\u00ad[^']*\])'", migration.FOLDED).group(1)
    assert codecs.decode(sql_class, "unicode_escape") == INVISIBLE.pattern
