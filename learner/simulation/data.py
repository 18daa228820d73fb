"""The simulation's input: a labeled JSONL file read into a ``Dataset``, its pool/test (and dev)
splits, and checked embeddings. Every bad line gets a ``DataError`` naming file, line and field."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from learner.training import first_nonfinite_row


class DataError(ValueError):
    """Bad input file; the message names the file, line and field."""


@dataclass
class Dataset:
    path: str
    texts: list[str]
    labels: np.ndarray  # str per row
    coarse: np.ndarray | None  # str per row or None
    sources: np.ndarray  # str per row ("" without sources)
    is_test: np.ndarray  # bool per row
    pool_splits: tuple[str, ...] = ()  # the split names that formed the pool (every one but "test")


def humanise(label: str) -> str:
    """'card_arrival' -> 'card arrival'; 'negative:Customer Service Issue' -> 'negative customer
    service issue' (the cold start's only hint about a label)."""
    return re.sub(r"\s+", " ", re.sub(r"[_:/\-.]+", " ", str(label))).strip().lower()


def not_utf8_message(path: Path) -> str:
    """Where ``path`` stops being UTF-8 text (file and line), for a UnicodeDecodeError met while
    reading it as text: the decoder's position is within a read buffer, not the file, so the line
    is found again here, line by line, on the error path only."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return (f"{path}, line {lineno}: bytes that are not UTF-8 ({exc.reason} at byte {exc.start + 1} "
                        "of the line); save the file as UTF-8")
    return f"{path}: bytes that are not UTF-8; save the file as UTF-8"


def load_jsonl(path: str | Path) -> Dataset:
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a file")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        return _read_jsonl(path)
    except UnicodeDecodeError:
        raise DataError(not_utf8_message(path)) from None


def _read_jsonl(path: Path) -> Dataset:
    texts, labels, coarse, sources, splits = [], [], [], [], []
    has_coarse = None
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}, line {lineno}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise DataError(f"{path}, line {lineno}: expected a JSON object")
            for key in ("text", "label"):
                value = row.get(key)
                if not isinstance(value, str | int) or str(value).strip() == "":
                    raise DataError(f"{path}, line {lineno}, field '{key}': missing or empty")
            split = row.get("split") or "train"
            if not isinstance(split, str):
                raise DataError(f"{path}, line {lineno}, field 'split': {split!r} is not a split name "
                                "(\"test\" is held out; every other name is pool)")
            row_has_coarse = row.get("coarse_label") not in (None, "")
            if has_coarse is None:
                has_coarse = row_has_coarse
            elif has_coarse != row_has_coarse:
                raise DataError(f"{path}, line {lineno}, field 'coarse_label': present on some rows only")
            texts.append(str(row["text"]))
            labels.append(str(row["label"]))
            coarse.append(str(row["coarse_label"]) if row_has_coarse else "")
            sources.append(str(row.get("source") or ""))
            splits.append(split)
    if not texts:
        raise DataError(f"{path}: no rows")
    # Every model of the run is trained on pool rows: one label there only failed after the encoding.
    pool_labels = sorted({label for label, split in zip(labels, splits, strict=True) if split != "test"})
    if len(pool_labels) < 2:
        found = f"only the label {pool_labels[0]!r}" if pool_labels else "none"
        raise DataError(f"{path}, field 'label': a simulation needs at least 2 different labels on the pool rows "
                        f"(split other than \"test\"); found {found}")
    return Dataset(path=str(path), texts=texts, labels=np.array(labels, dtype=object),
                   coarse=np.array(coarse, dtype=object) if has_coarse else None,
                   sources=np.array(sources, dtype=object), is_test=np.array([s == "test" for s in splits], dtype=bool),
                   pool_splits=tuple(sorted(set(splits) - {"test"})))


def split_pool_test(data: Dataset, seed: int, fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the pool and of the test set. Without a ``test`` split, a stratified ``fraction``
    is held out by ``seed`` (labels with a single row stay in the pool)."""
    if data.is_test.any():
        return np.flatnonzero(~data.is_test), np.flatnonzero(data.is_test)
    return stratified_holdout(np.arange(len(data.labels)), data.labels, np.random.default_rng(seed), fraction)


def stratified_holdout(rows: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
                       fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Split ``rows`` (with their ``labels``) into (kept, held out): round(fraction * n) rows of
    every label are held out; a label with a single row keeps it."""
    rows, labels = np.asarray(rows), np.asarray(labels)
    held = []
    for label in np.unique(labels):
        members = rows[labels == label]
        k = int(round(fraction * len(members))) if len(members) > 1 else 0
        held.extend(rng.choice(members, k, replace=False).tolist())
    is_held = np.isin(rows, np.array(held, dtype=rows.dtype))
    return rows[~is_held], rows[is_held]


def split_pool_dev(data: Dataset, pool: np.ndarray, seed: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """A stratified ``fraction`` of the pool held out as a dev set (by ``seed``; its own random
    stream, so the test split is unchanged). Dev rows are never selectable."""
    return stratified_holdout(pool, data.labels[pool], np.random.default_rng([seed, 7919]), fraction)


def check_embeddings(emb: np.ndarray, n_rows: int, where: str) -> np.ndarray:
    emb = np.asarray(emb, dtype=np.float32)
    if emb.ndim != 2 or emb.shape[0] != n_rows:
        raise DataError(f"{where}: embeddings have shape {emb.shape}, expected ({n_rows}, d) row-aligned "
                        "with the data file")
    bad = first_nonfinite_row(emb)
    if bad is not None:
        raise DataError(f"{where}: row {bad} holds NaN or infinite values")
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return emb / np.maximum(norms, 1e-12)
