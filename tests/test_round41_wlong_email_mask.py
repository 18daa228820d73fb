"""normalize_text masks e-mail addresses in linear time, with exactly the output of the regex it
used before (stored text_hash values stay valid)."""
import random
import re
import time
import unicodedata

from learner.text import mask_emails, normalize_text

ORIGINAL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")  # the mask as it was, written out again


def original_normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"(?:https?://|www\.)\S+", "<url>", text, flags=re.IGNORECASE)
    text = ORIGINAL.sub("<email>", text)
    text = re.sub(r"(?<!\w)@\w+", "<user>", text)
    text = re.sub(r"\d+", "0", text)
    return re.sub(r"\s+", " ", text).strip()


def test_mask_emails_equals_the_regex_on_many_random_strings():
    rng = random.Random(41)
    alphabet = "a1_.+-@ éx\t٣²Ā"  # word characters (ASCII and not), the local part's '.', '+', '-', '@', spaces
    for case in range(30_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30 if case % 10 else 200)))
        assert mask_emails(text) == ORIGINAL.sub("<email>", text), repr(text)


def test_normalize_text_equals_the_original_on_many_random_strings():
    rng = random.Random(7)
    pieces = ["a", "B", "1", "_", ".", "+", "-", "@", " ", "\t", "é", "Ｅ", "ß", "²", "http://x.y", "www.", "@b.co",
              "x@y.z", ".-", "\u200b", "٣"]
    for _ in range(10_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 16)))
        assert normalize_text(text) == original_normalize(text), repr(text)


def test_addresses_are_still_masked_as_before():
    text = "Mail -a@b.cd, x.y+z@mail.example.org. or a@b.c@d.e; foo@bar (not one) @someone"
    assert normalize_text(text) == original_normalize(text)
    assert normalize_text(text) == "mail -<email>, <email>. or <email><user>.e; foo@bar (not one) <user>"


def test_mask_emails_is_linear_on_the_ceiling_length():
    for text in ("a+" * 50_000, "a." * 50_000, "a@" * 50_000, "a@b." * 25_000, "x-" * 25_000 + "@" + "y." * 25_000):
        start = time.perf_counter()
        normalize_text(text)
        took = time.perf_counter() - start
        assert took < 0.5, f"normalize_text took {took:.2f} s on {text[:12]!r}… ({len(text)} characters)"
