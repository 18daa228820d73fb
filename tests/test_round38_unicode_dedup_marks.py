"""Near-duplicate grouping throws away emoji and the vowel signs of Indic and Thai script, so texts
that differ only in those are grouped as duplicates (similarity 1.0), whatever they say.

labeling/items/dedup.py cuts shingles from ``shingle_text``: the normalized text with
``_PUNCT = re.compile(r"[^\\w\\s]+")`` deleted ("punctuation dropped", docs/intake.md). Python's
``\\w`` is letters, digits and "_": emoji are not in it, and neither are combining marks, which in
Devanagari, Thai, Bengali, Tamil… are the vowels of the word (ा ि ी ु े ो, ั ี ื ู, tone marks).
So "मुझे काम चाहिए अभी" ("I need work now") and "मुझे कम चाहिए अभी" ("I need less now") both become
"मझ कम चह अभ", "ร้านนี้ดีมาก" ("this shop is very good") and "ร้านนี้ดูมาก" both "รานนดมาก", and
"I love it ❤️" / "I love it 💔" both "i love it".

A near-duplicate group is not cosmetic: the planner takes one item per group and never an item
whose group holds a labeled one (learner/planning/plan.py: "no duplicate of a labeled item"), so
once "I love it ❤️" is labeled, "I love it 💔" can never be picked for labeling; the export's split
keeps a group together."""
import json

import pytest

from labeling.items.models import Item
from labeling.items.services import import_path

pytestmark = pytest.mark.django_db

PAIRS = [
    ("मुझे काम चाहिए अभी", "मुझे कम चाहिए अभी"),  # Hindi: "I need work now" / "I need less now"
    ("ร้านนี้ดีมาก", "ร้านนี้ดูมาก"),  # Thai: "this shop is very good" / "… looks very …"
    ("The new update is 👍", "The new update is 👎"),
    ("Great service 😡😡😡 never again", "Great service 😍😍😍 never again"),
    ("I love it ❤️", "I love it 💔"),
]


@pytest.fixture
def project(project_factory):
    return project_factory("marks", sources=("web",))


@pytest.mark.parametrize("first, second", PAIRS)
def test_texts_that_differ_in_vowel_signs_or_emoji_are_not_near_duplicates(project, tmp_path, first, second):
    path = tmp_path / "tickets.jsonl"
    rows = [{"text": first, "source": "web"}, {"text": second, "source": "web"}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    result = import_path(project, path)
    assert result.ok, [e.format("f") for e in result.errors]
    groups = dict(Item.objects.filter(project=project).values_list("text", "dup_group"))
    assert groups[first] != groups[second], (
        f"{first!r} and {second!r} were grouped as near duplicates "
        f"(import counted {result.near_duplicates} near and {result.exact_duplicates} exact duplicates)")


def test_control_an_ordinary_near_duplicate_is_still_grouped(project, tmp_path):
    """Control (passes today): a casing and punctuation edit still joins its original."""
    path = tmp_path / "tickets.jsonl"
    rows = [{"text": "Please refund my order, it never arrived", "source": "web"},
            {"text": "please refund my order it never arrived!!", "source": "web"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert import_path(project, path).ok
    assert len(set(Item.objects.filter(project=project).values_list("dup_group", flat=True))) == 1
