"""Near-duplicate shingles keep combining marks and emoji now (tests/test_round38_unicode_dedup_marks.py);
what must not change with them:

- an ASCII text's band keys: they are stored (ItemLsh) and later imports look them up, so a text that
  shingled one way before must give the same keys now (the numbers below were computed by the code
  before round 38);
- what is no difference: Hebrew niqqud and Arabic harakat (optional pointing: the same word with and
  without), emoji variation selectors ("❤" and "❤️"), a zero-width space inside a word, punctuation in
  any script."""
import json

import pytest

from labeling.items import dedup
from labeling.items.models import Item
from labeling.items.services import import_path

ASCII_TEXT = "Hey @united, my flight <3 was $400 + fees: https://x.io/a?b=1 ~ ok_then! #fail |=^`"
ASCII_KEYS_BEFORE = [2410609009621242421, -2238083689862721032, 9175509149555846953, -7382132856731694018,
                     -841163515117656947, 8643107543898218698, 6632394849114383853, 3303595369824448285,
                     7000490493046756040, -3768598270070225166, -2652458935704553969, 7841728732657759844,
                     -6204072353436503325, -614078785521111072, -8971493189505581067, -2739694391226425856]
SHORT_KEYS_BEFORE = [-8978747295022620646, 3437668426168268570, 6725933310088197459, -1674175607794415010,
                     372520295337591759, 2211130269997264246, -6235102627346850115, -3417460052452307790,
                     5216096862934538036, -135115512485481215, -5809582414040749846, 4258275869937943121,
                     -90526225215528786, 5094760324370702509, 2034412760180099193, -2082078773631915512]


def test_an_ascii_texts_band_keys_are_the_ones_stored_before():
    keys = dedup.band_keys(dedup.signatures(dedup.shingle_hashes([ASCII_TEXT, "ok"]))).tolist()
    assert keys == [ASCII_KEYS_BEFORE, SHORT_KEYS_BEFORE]


SAME = [
    ("שָׁלוֹם לכולם, החשבון שלי נחסם היום", "שלום לכולם החשבון שלי נחסם היום"),  # Hebrew, with and without niqqud
    ("أُرِيدُ اسْتِرْدَادَ المَالِ مِنْ فَضْلِكَ", "أريد استرداد المال من فضلك"),  # Arabic, with and without harakat
    ("I love it ❤️ so much", "I love it ❤ so much"),  # with and without the emoji variation selector
    ("please reset my pass\u200bword today", "Please reset my password today!"),
    ("मुझे काम चाहिए अभी।", "मुझे काम चाहिए अभी"),  # the danda is punctuation
    ("「返金してください」お願いします", "返金してください。お願いします"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("first, second", SAME)
def test_what_is_no_difference_still_groups(project_factory, tmp_path, first, second):
    project = project_factory("same", sources=("web",))
    path = tmp_path / "tickets.jsonl"
    path.write_text("".join(json.dumps({"text": t, "source": "web"}, ensure_ascii=False) + "\n"
                            for t in (first, second)), encoding="utf-8")
    result = import_path(project, path)
    assert result.ok, [e.format("f") for e in result.errors]
    groups = dict(Item.objects.filter(project=project).values_list("text", "dup_group"))
    assert groups[first] == groups[second], (result.near_duplicates, result.exact_duplicates)
