"""normalize_text (every imported row's exact-duplicate key, and the predict queue's) masks e-mail
addresses with ``\\b[\\w.+-]+@[\\w-]+\\.[\\w.-]+\\b``. In a long run of word characters broken by '.',
'+' or '-' (every position a word boundary) without an '@', the regex tries every start and scans
to the run's end from each: quadratic. A 20,000-character text (the default limit) costs seconds,
a 100,000-character one (the ceiling) about a minute, per row, where an ordinary text of the same
length takes a millisecond."""
import time

from learner.text import normalize_text


def seconds(text: str) -> float:
    start = time.perf_counter()
    normalize_text(text)
    return time.perf_counter() - start


def test_normalize_text_is_linear_on_a_long_dotted_run():
    ordinary = seconds("a b " * 5_000)            # 20,000 characters
    dotted = seconds("a+" * 9_990)               # 19,980 characters, within the default limit
    assert dotted < 0.25, (f"normalize_text took {dotted:.2f} s on a 19,980-character 'a+a+…' text "
                           f"({ordinary:.4f} s on an ordinary one of the same length)")
