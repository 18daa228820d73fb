"""Near-duplicate quality on short texts: each planted edit kind is grouped with its original, and
different short texts are not (in memory and through a real import)."""
import json

import pytest

from labeling.items import dedup, grouping
from labeling.items.models import Item
from labeling.items.services import import_path
from learner.text import text_hash

BASE = "My card payment was declined at the shop today"
TWO_SENTENCES = "The app keeps crashing on start. I cannot log in to pay my bill."
EDITED = {
    "edited word (replaced)": "My card payment was declined at the store today",
    "edited word (inserted)": "My card payment was declined again at the shop today",
    "edited word (deleted)": "My card payment was declined at the shop",
    "casing": "MY CARD PAYMENT WAS DECLINED AT THE SHOP TODAY",
    "punctuation": "My card payment was declined - at the shop, today!!!",
    "appended signature": "My card payment was declined at the shop today\n\nSent from my iPhone",
}
# Other texts of the same import that end with the same signature: it recurs, so it is boilerplate.
SIGNED = [f"{t}\n\nSent from my iPhone" for t in (
    "Where can I find my statement for last month", "Please close my savings account",
    "Why was I charged twice for one coffee", "How long does a transfer to Spain take",
    "I forgot the answer to my security question")]
DIFFERENT_SHORT = [
    ("Where is my card?", "Where is my refund?"),
    ("Is there a fee for top ups?", "Can I top up by bank transfer?"),
    ("I want to cancel", "I want to cancel my card"),
    ("What is the capital of Peru?", "What was the population of Lima in 1990?"),
    # One differing word, but a long one in a short text: char Jaccard 0.44 < WORD_EDIT_MIN_JACCARD.
    ("What is the capital of Peru?", "What is the currency of Peru?"),
]


def groups_of(texts, threshold=0.8):
    groups, _ = grouping.group_texts(texts, [text_hash(t) for t in texts], threshold=threshold)
    return groups


@pytest.mark.parametrize("kind", sorted(EDITED))
def test_each_edit_kind_joins_its_original(kind):
    texts = [BASE, "Completely unrelated: the train to Bergen was late again", *SIGNED, EDITED[kind]]
    groups = groups_of(texts)
    assert groups[-1] == groups[0] == 1
    assert groups[1] == 2


def test_reordered_sentences_join_their_original():
    reordered = "I cannot log in to pay my bill. The app keeps crashing on start."
    assert groups_of([TWO_SENTENCES, reordered]) == [1, 1]


@pytest.mark.parametrize("pair", DIFFERENT_SHORT, ids=[a for a, _ in DIFFERENT_SHORT])
def test_different_short_texts_are_not_grouped(pair):
    assert groups_of(list(pair)) == [1, 2]


def test_a_trailing_span_that_does_not_recur_is_not_stripped():
    """Without other texts ending in the signature it is content, not boilerplate."""
    assert groups_of([BASE, EDITED["appended signature"]]) == [1, 2]
    assert groups_of([BASE, EDITED["appended signature"], *SIGNED])[:2] == [1, 1]


def test_word_edit_similarity():
    a, b = ("a b c d e".split(), "a b x d e".split())
    assert dedup.word_edit_similarity(a, b) == pytest.approx(0.8)
    assert dedup.word_edit_similarity(a, a + ["f"]) == pytest.approx(5 / 6)
    assert dedup.word_edit_similarity(a, ["z"]) == pytest.approx(0.0)
    # Early exit: cannot reach the floor, reported as 0.
    assert dedup.word_edit_similarity(a, "a x y d e".split(), floor=0.7) == 0.0
    assert dedup.word_edit_similarity(a, "a x y d e".split()) == pytest.approx(0.6)


def test_no_chaining_through_a_middle_text():
    """A joins group 1 only if similar to group 1's representative, not to any member."""
    words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet".split()
    first = " ".join(words)
    middle = " ".join(words[:8] + ["kilo", "lima"])  # 2 of 10 words changed: 0.8
    last = " ".join(words[:6] + ["mike", "oscar", "kilo", "lima"])  # 2 more: 0.8 to middle, 0.6 to first
    f = dedup.features([first, middle, last])
    assert dedup.similarity(f[0], f[1]) >= 0.8 and dedup.similarity(f[1], f[2]) >= 0.8 > dedup.similarity(f[0], f[2])
    assert groups_of([first, middle, last]) == [1, 1, 3]


def test_edits_are_grouped_through_a_real_import(project_factory, tmp_path):
    project = project_factory("dedupq", labels=("a",), sources=("email",))
    texts = [BASE, *SIGNED, *EDITED.values(), *(t for pair in DIFFERENT_SHORT for t in pair)]
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    assert import_path(project, path).ok
    items = {i.text: i for i in Item.objects.filter(project=project)}
    base = items[BASE]
    assert base.dup_group == base.id
    assert {items[t].dup_group for t in EDITED.values()} == {base.id}
    for a, b in DIFFERENT_SHORT:
        assert items[a].dup_group != items[b].dup_group


def test_a_signed_text_is_indexed_without_its_signature_across_imports(project_factory, tmp_path):
    """The signed copy comes first; its stored LSH keys are those of its text without the (recurring)
    signature, so the bare text imported later finds it."""
    from labeling.items.models import ItemLsh

    project = project_factory("dedupsig", labels=("a",), sources=("email",))
    signed = EDITED["appended signature"]
    first = tmp_path / "first.jsonl"
    first.write_text("".join(json.dumps({"text": t}) + "\n" for t in [signed, *SIGNED]), encoding="utf-8")
    assert import_path(project, first).ok
    copy = Item.objects.get(project=project, text=signed)
    bare_keys = dedup.band_keys(dedup.signatures(dedup.shingle_hashes([BASE])))[0].tolist()
    lsh = ItemLsh.objects.get(item=copy)
    assert [getattr(lsh, f"b{b}") for b in range(dedup.BANDS)] == bare_keys
    more_signed = [f"{t}\n\nSent from my iPhone" for t in (
        "Can I get a card in green", "My transfer to mum has not arrived", "Is Apple Pay supported",
        "I need a new PIN for my card", "How do I change my address")]
    second = tmp_path / "second.jsonl"
    second.write_text("".join(json.dumps({"text": t}) + "\n" for t in [BASE, *more_signed]), encoding="utf-8")
    assert import_path(project, second).ok
    assert Item.objects.get(project=project, text=BASE).dup_group == copy.id
