"""The encoder reads a text only up to its max_seq_length (256 word pieces, about 1,000 characters of
English), while a project stores and shows texts of up to 20,000 characters (100,000 at most). Two
texts that differ only after the window get the same vector: predict answers them alike, sure of
itself (needs_review false), and nothing a lead reads (README, the import page, the settings page,
the predict answer) says that the rest of a long text is not read."""
import random
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.test_predict import trained, world  # noqa: F401  (fixtures: a project trained through the real loop)

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parent.parent / "README.md"


def filler(n_words: int) -> str:
    rng = random.Random(1)
    vocabulary = ["the", "card", "my", "account", "was", "charged", "and", "it", "is", "bank", "app", "again"]
    return " ".join(rng.choice(vocabulary) for _ in range(n_words))


BILLING_END = " I was charged twice, please refund my invoice"
LOGIN_END = " I cannot log in, the password reset does not work and I am locked out"


def test_predict_says_when_a_text_was_cut_at_the_encoders_window(world, trained):  # noqa: F811
    start = filler(600)  # ~3,500 characters: well within the project's 20,000
    api = APIClient()
    api.force_authenticate(world["lead"])
    answer = api.post("/api/projects/alpha/predict/", {"texts": [start + BILLING_END, start + LOGIN_END]},
                      format="json")
    assert answer.status_code == 200
    billing, login = answer.json()["results"]
    # the endings, the only part that tells the two apart, are never read
    assert billing["probabilities"] == login["probabilities"]
    assert billing["needs_review"] is False and login["needs_review"] is False
    said = " ".join(str(v) for row in (billing, login) for k, v in row.items() if k not in ("probabilities",))
    assert "cut" in said or "truncat" in said or "token" in said, (
        "predict answered two texts that differ after the encoder's window identically, with needs_review "
        f"false, and did not say that it read only their start: {billing}")


def test_a_lead_is_told_that_the_model_reads_only_the_start_of_a_long_text(client, world):  # noqa: F811
    client.force_login(world["lead"])
    import_page = client.get("/p/alpha/import/").content.decode()
    settings_page = client.get("/p/alpha/settings/").content.decode()
    assert "texts up to 20000 characters" in import_page  # what a lead is told
    told = [where for where, text in (("README.md", README.read_text()), ("import page", import_page),
                                      ("settings page", settings_page))
            if "256 tokens" in text or "256 word pieces" in text or "first 1,000 characters" in text]
    assert told, ("nowhere a lead reads says that the model reads only the first 256 tokens (about 1,000 "
                  "characters) of a text the project accepts up to 20,000 characters of")
