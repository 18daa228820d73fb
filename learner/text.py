"""Text normalization for exact-duplicate detection and the embedding cache key.
Plain Python (no Django), so the learner core can use the same key."""
import hashlib
import re
import unicodedata

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_MENTION = re.compile(r"(?<!\w)@\w+")
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFKC, casefold, URLs / e-mail addresses / @mentions / digit runs masked, whitespace
    collapsed. Two texts with the same normalized form are exact duplicates."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _URL.sub("<url>", text)
    text = _EMAIL.sub("<email>", text)
    text = _MENTION.sub("<user>", text)
    text = _DIGITS.sub("0", text)
    return _SPACE.sub(" ", text).strip()


def text_hash(text: str) -> str:
    """sha256 hex of the normalized text."""
    return hash_normalized(normalize_text(text))


def exact_text_hash(text: str) -> str:
    """sha256 hex of the text as written (a prefix keeps it apart from ``text_hash``'s keys): the key
    of a vector that must be of this very text (a predict request, a label text). ``text_hash``
    masks URLs, e-mail addresses, mentions and digits, so under it a text would get the vector of
    whichever of its exact duplicates was encoded first."""
    return hashlib.sha256(("exact\x00" + text).encode("utf-8")).hexdigest()


def hash_normalized(normalized: str) -> str:
    """text_hash for a text already passed through normalize_text (saves normalizing twice)."""
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()
