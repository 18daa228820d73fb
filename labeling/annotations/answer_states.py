"""What an answer that no longer counts is: changed or cleared. Both rows carry ``undone`` (neither
counts for training, export, agreement or resolution), so ``undone`` alone cannot tell them apart:

* **changed**: a newer answer of the same annotator on the same assignment replaced it
  (``history.change_answer``); the newer row's ``supersedes`` points at it.
* **cleared**: undone with nothing replacing it (a clear from the history, or the undo of the last
  answer). This is what the pages and the API call "undone".

The answers list's ``undone`` filter, the item story's ``undone`` flag and the throughput's counts
read these, so the three agree on which rows are which."""
from __future__ import annotations

from collections.abc import Container

from django.db.models import Q


def cleared() -> Q:
    """Undone answers no newer answer replaced (the reverse side of ``supersedes`` is empty)."""
    return Q(undone=True, superseded_by__isnull=True)


def changed() -> Q:
    """Answers a change from the history replaced."""
    return Q(undone=True, superseded_by__isnull=False)


def is_cleared(undone: bool, answer_id: int, replaced_ids: Container[int]) -> bool:
    """``cleared()`` for an answer already read: ``replaced_ids`` are the ids that newer answers
    name in ``supersedes``."""
    return undone and answer_id not in replaced_ids
