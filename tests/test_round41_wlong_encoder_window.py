"""The encoder reads a text only up to its window (256 word pieces for all-MiniLM-L6-v2): predict marks
each text it cut, counted with the encoder's own tokenizer, and the import and settings pages say it."""
import random

import pytest
from rest_framework.test import APIClient
from sentence_transformers import SentenceTransformer

from learner.embedding import bundled_model_path
from learner.encoders.window import encoder_window
from tests.test_predict import trained, world  # noqa: F401  (fixtures: a project trained through the real loop)

pytestmark = pytest.mark.django_db


def words(n: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(["the", "card", "my", "account", "was", "charged", "refund", "bank"]) for _ in range(n))


def test_the_window_counts_what_sentence_transformers_reads():
    model = SentenceTransformer(bundled_model_path(), device="cpu")
    window = encoder_window(bundled_model_path())
    assert window.max_seq_length == model.max_seq_length == 256
    long, short = words(600), words(40)
    long_seen, short_seen = window.measure([long, short])
    full = model.tokenizer(long, add_special_tokens=True)["input_ids"]
    read = model.tokenizer(long, truncation=True, max_length=model.max_seq_length)["input_ids"]
    assert (long_seen.tokens, long_seen.tokens_read, long_seen.truncated) == (len(full), len(read), True)
    # the characters read are those the first 254 word pieces cover: the text up to them gives the same ids
    assert model.tokenizer(long[:long_seen.chars_read])["input_ids"][:-1] == read[:-1]
    assert long_seen.chars_read < len(long)
    assert not short_seen.truncated and short_seen.tokens == len(model.tokenizer(short)["input_ids"])


def test_predict_marks_only_the_texts_cut_at_the_window(world, trained):  # noqa: F811
    api = APIClient()
    api.force_authenticate(world["lead"])
    start = words(600)
    texts = [start + " I was charged twice, please refund my invoice", "my card was charged twice"]
    answer = api.post("/api/projects/alpha/predict/", {"texts": texts}, format="json")
    assert answer.status_code == 200, answer.content
    cut, whole = answer.json()["results"]
    assert cut["truncated"] is True and cut["tokens_read"] == 256 and cut["tokens"] > 600
    assert 0 < cut["chars_read"] < len(texts[0]) and texts[0][cut["chars_read"]:].endswith("refund my invoice")
    assert "first 256 of this text's" in cut["truncation_note"] and f"of {len(texts[0]):,} characters" in \
        cut["truncation_note"]
    assert whole["truncated"] is False and "tokens" not in whole and "truncation_note" not in whole


def test_import_and_settings_pages_give_the_window(client, world):  # noqa: F811
    client.force_login(world["lead"])
    import_page = client.get("/p/alpha/import/").content.decode()
    settings_page = client.get("/p/alpha/settings/").content.decode()
    assert "The model reads only the first 256 tokens" in import_page
    assert "Maximum text length in characters (the model reads only the first 256 tokens, about 1,000" in settings_page
