"""POST predict/ with the review queue on: a text the importer refuses as empty (blank, whitespace,
invisible characters only) is still scored (predict answers every text; the queue may be on by the
project's setting, docs/loop.md) but is not stored as a pool item nor queued, and its row says why
in the importer's own words."""
import json
import random

import pytest

from labeling.annotations.models import ReviewTask
from labeling.items.models import Item
from labeling.items.validation import empty_text_problem, validate
from labeling.modeling.embedding import embed_project
from labeling.modeling.scores import score_version
from learner.text import text_hash
from tests.test_predict import UNLABELED, _force_review, api_as, trained, world  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

BLANK = ["   ", "\u200b\u200b", "\u00a0\t\n\u3000", "\ufeff \u2060"]
REAL = "my gym card was charged by someone else"


def _pool_with_room(alpha, version):
    """A scored unlabeled pool, so that the review share has room for what predict queues."""
    source = alpha.sources.first()
    for text in UNLABELED:
        Item.objects.create(project=alpha, source=source, text=text, text_hash=text_hash(text))
    embed_project(alpha)
    score_version(version)
    alpha.review_share_max = 0.5


@pytest.mark.parametrize("by_setting", [False, True])
def test_blank_texts_are_scored_but_never_queued(world, trained, by_setting):  # noqa: F811
    alpha = world["alpha"]
    _force_review(trained)  # every prediction is doubtful: each text would be queued
    _pool_with_room(alpha, trained)
    alpha.queue_review_predictions = by_setting
    alpha.save()
    items_before = Item.objects.filter(project=alpha).count()
    request = {"texts": [*BLANK, REAL]} if by_setting else {"texts": [*BLANK, REAL], "queue_for_review": True}
    response = api_as(world["lead"]).post("/api/projects/alpha/predict/", request, format="json")
    assert response.status_code == 200, response.json()
    *blank_rows, real_row = response.json()["results"]
    for text, row in zip(BLANK, blank_rows, strict=True):
        assert row["label"] and row["needs_review"]  # scored as before
        assert row["queued_for_review"] is False and row["queued_item"] is None
        assert row["review_note"].startswith(f"not queued: {empty_text_problem(text)},")
    assert "only whitespace and invisible characters" in blank_rows[1]["review_note"]
    assert real_row["queued_for_review"], real_row["review_note"]
    assert Item.objects.get(pk=real_row["queued_item"]).text == REAL
    assert Item.objects.filter(project=alpha).count() == items_before + 1
    assert list(ReviewTask.objects.filter(project=alpha).values_list("item_id", flat=True)) == [real_row["queued_item"]]


def test_the_importer_refuses_the_same_texts_with_the_same_words(world, tmp_path):  # noqa: F811
    """The note above quotes the importer's rule (one function, labeling.items.validation)."""
    path = tmp_path / "blank.jsonl"
    path.write_text("".join(json.dumps({"text": text, "source": "email"}) + "\n" for text in [*BLANK, REAL]),
                    encoding="utf-8")
    checked = validate(world["alpha"], path, "jsonl")
    assert [(e.line, e.field, e.message) for e in checked.errors] == [
        (line, "text", empty_text_problem(text)) for line, text in enumerate(BLANK, start=1)]
    assert empty_text_problem(REAL) is None and empty_text_problem("   ") == "the text is empty"


def test_a_text_whose_search_document_overflows_is_scored_but_not_queued(world, trained, postgres_only):  # noqa: F811
    """The importer's other rule for a stored text (labeling.items.validation.SearchDocuments): a text
    under the length limit whose search document PostgreSQL cannot hold would fail the item's insert."""
    alpha = world["alpha"]
    _force_review(trained)
    _pool_with_room(alpha, trained)
    alpha.max_text_chars = 100_000
    alpha.queue_review_predictions = True
    alpha.save()
    rng = random.Random(1)
    squared = [chr(code) for code in range(0x3300, 0x3358)]  # NFKC unfolds each to 3-5 Katakana
    words = ("-".join("".join(rng.choice(squared) for _ in range(8)) for _ in range(8)) for _ in range(2000))
    dense = " ".join(words)[:80_000]  # ~2 MB of distinct words and positions for PostgreSQL's 1 MB
    items_before = Item.objects.filter(project=alpha).count()
    response = api_as(world["lead"]).post("/api/projects/alpha/predict/", {"texts": [dense]}, format="json")
    assert response.status_code == 200, response.content[:300]
    (row,) = response.json()["results"]
    assert row["label"] and not row["queued_for_review"]
    assert row["review_note"].startswith("not queued: the text cannot be indexed for search")
    assert Item.objects.filter(project=alpha).count() == items_before
