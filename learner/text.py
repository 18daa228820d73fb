"""Text normalization for exact-duplicate detection and the embedding cache key.
Plain Python (no Django), so the learner core can use the same key."""
import hashlib
import re
import unicodedata

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# An e-mail address is what ``\b[\w.+-]+@[\w-]+\.[\w.-]+\b`` matches (EMAIL_PATTERN; re.sub with it
# defines the mask). mask_emails gives the same output in linear time: the one regex is quadratic
# on a long run of word characters broken by '.', '+' or '-' (each position is a \b start, and each
# start scans to the run's end), seconds for a 20,000-character text.
EMAIL_PATTERN = r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b"
_EMAIL_LOCAL_CHAR = re.compile(r"[\w.+-]")
_EMAIL_DOMAIN = re.compile(r"@[\w-]+\.[\w.-]+\b")
_WORD_BOUNDARY = re.compile(r"\b")
_MENTION = re.compile(r"(?<!\w)@\w+")
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFKC, casefold, URLs / e-mail addresses / @mentions / digit runs masked, whitespace
    collapsed. Two texts with the same normalized form are exact duplicates."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _URL.sub("<url>", text)
    text = mask_emails(text)
    text = _MENTION.sub("<user>", text)
    text = _DIGITS.sub("0", text)
    return _SPACE.sub(" ", text).strip()


def mask_emails(text: str) -> str:
    """``re.sub(EMAIL_PATTERN, "<email>", text)``, in linear time. The local part ``[\\w.+-]+`` must
    run up to an '@' (no '@' in it, so backtracking cannot end it earlier): a match at an '@' starts at
    the first word boundary of the run of local-part characters before it, not before the previous
    match's end, and ends where the domain part matches from that '@'. Each character is looked at a
    bounded number of times: the runs before two '@'s, and the domains after them, do not overlap."""
    out, done, at = [], 0, text.find("@")
    while at != -1:
        domain = _EMAIL_DOMAIN.match(text, at)
        if domain:
            start = at
            while start > done and _EMAIL_LOCAL_CHAR.match(text, start - 1):
                start -= 1
            while start < at and not _WORD_BOUNDARY.match(text, start):
                start += 1
            if start < at:
                out += (text[done:start], "<email>")
                done = domain.end()
        at = text.find("@", max(at + 1, done))
    out.append(text[done:])
    return "".join(out)


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
