"""How much of a text an encoder reads. A sentence-transformers model cuts every text at its
``max_seq_length`` word pieces (256 for all-MiniLM-L6-v2, about 1,000 characters of English, its
[CLS] and [SEP] included); the rest of the text does not change its vector. ``encoder_window``
loads only the model folder's ``tokenizer.json`` (the tokenizer both backends use; no model
weights), once per folder per process, and ``measure`` counts each text's word pieces with it."""
from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

_WINDOWS: dict[str, EncoderWindow] = {}
_LOCK = threading.Lock()
_KEEP = 8  # tokenizers kept (a few MB each): the frozen encoder and a few fine-tuned ones


@dataclass(frozen=True)
class TextWindow:
    """One text against the window: ``tokens`` in all (special tokens included), ``tokens_read``,
    and ``chars_read``: the characters that the read word pieces cover (the whole text if not cut)."""
    tokens: int
    tokens_read: int
    chars_read: int
    truncated: bool


class EncoderWindow:
    def __init__(self, tokenizer: Tokenizer, max_seq_length: int):
        self.tokenizer = tokenizer
        self.max_seq_length = max_seq_length

    def approx_chars(self) -> int:
        """About how many characters of English the window holds (four per word piece, rounded)."""
        return round(self.max_seq_length * 4, -2)

    def measure(self, texts: Sequence[str]) -> list[TextWindow]:
        out = []
        for text, encoding in zip(texts, self.tokenizer.encode_batch(list(texts)), strict=True):
            total = len(encoding.ids)
            if total <= self.max_seq_length:
                out.append(TextWindow(total, total, len(text), False))
                continue
            # the last word piece read: the window less the closing [SEP]
            special = encoding.special_tokens_mask
            last = max(i for i in range(self.max_seq_length - 1) if not special[i]) if total > 2 else 0
            out.append(TextWindow(total, self.max_seq_length, encoding.offsets[last][1], True))
        return out


def read_max_seq_length(model_path: str | Path) -> int:
    """Where sentence-transformers takes it from: ``sentence_bert_config.json``, else the smaller of
    the tokenizer's ``model_max_length`` and the model's ``max_position_embeddings`` (512 if neither)."""
    root = Path(model_path)

    def config(name: str) -> dict:
        file = root / name
        return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}

    if config("sentence_bert_config.json").get("max_seq_length"):
        return int(config("sentence_bert_config.json")["max_seq_length"])
    limits = [v for v in (config("tokenizer_config.json").get("model_max_length"),
                          config("config.json").get("max_position_embeddings")) if isinstance(v, int)]
    return min(limits) if limits else 512


def _stamp(file: Path) -> tuple[int, int] | None:
    """(modification time, size) of ``file``, None where it is absent."""
    if not file.exists():
        return None
    info = file.stat()
    return info.st_mtime_ns, info.st_size


def encoder_window(model_path: str | Path) -> EncoderWindow | None:
    """The window of the model folder at ``model_path``; None where the folder has no readable
    ``tokenizer.json`` (a fine-tuned folder not on this host): then nothing is said about truncation."""
    folder = str(model_path)
    try:  # a folder written again under the same path (a project re-created under its slug) is read again
        key = (folder, *(_stamp(Path(folder) / name) for name in ("tokenizer.json", "sentence_bert_config.json")))
    except OSError:
        return None
    with _LOCK:
        if key in _WINDOWS:
            return _WINDOWS[key]
    try:
        tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        window = EncoderWindow(tokenizer, read_max_seq_length(folder))
    except Exception:  # noqa: BLE001 - a missing or odd folder (tried again next time): no window, no note
        return None
    with _LOCK:
        _WINDOWS[key] = window
        while len(_WINDOWS) > _KEEP:
            _WINDOWS.pop(next(iter(_WINDOWS)))
    return window
