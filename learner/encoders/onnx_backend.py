"""Sentence embeddings from an ONNX export of a sentence-transformers model, on ONNX Runtime (CPU).

Reproduces what sentence-transformers does for a Transformer → mean Pooling (→ Normalize) model:
the model folder's own ``tokenizer.json`` with truncation at ``max_seq_length`` and padding to the
longest text of each batch, texts batched longest first, token vectors averaged over the attention
mask, rows scaled to unit length. The export itself is ``onnx_export``'s job.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

ST_TRANSFORMER = "sentence_transformers.models.Transformer"
ST_POOLING = "sentence_transformers.models.Pooling"
ST_NORMALIZE = "sentence_transformers.models.Normalize"


class UnsupportedModelError(ValueError):
    """The model folder is not a plain Transformer → mean pooling sentence-transformers model."""


def read_sentence_transformer_config(model_path: str | Path) -> dict:
    """``max_seq_length`` and pooling of a sentence-transformers folder; raises
    ``UnsupportedModelError`` for anything but Transformer → mean Pooling (→ Normalize)."""
    root = Path(model_path)
    modules_file = root / "modules.json"
    if not modules_file.is_file():
        raise UnsupportedModelError(f"{modules_file} is missing: not a sentence-transformers model folder")
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    types = [m.get("type") for m in modules]
    if types[:2] != [ST_TRANSFORMER, ST_POOLING] or any(t != ST_NORMALIZE for t in types[2:]):
        raise UnsupportedModelError(f"{modules_file}: modules {types} are not Transformer, Pooling[, Normalize]")
    pooling = json.loads((root / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        raise UnsupportedModelError(f"{root / modules[1]['path'] / 'config.json'}: pooling {modes}, only mean "
                                    "pooling is exported")
    st_config_file = root / "sentence_bert_config.json"
    st_config = json.loads(st_config_file.read_text(encoding="utf-8")) if st_config_file.is_file() else {}
    tokenizer_config_file = root / "tokenizer_config.json"
    tokenizer_config = (json.loads(tokenizer_config_file.read_text(encoding="utf-8"))
                        if tokenizer_config_file.is_file() else {})
    limits = [v for v in (st_config.get("max_seq_length"), tokenizer_config.get("model_max_length")) if v]
    if st_config.get("do_lower_case"):
        raise UnsupportedModelError(f"{st_config_file}: do_lower_case is not reproduced by the ONNX backend")
    return {"max_seq_length": int(min(limits)) if limits else 512, "dimension": int(pooling["word_embedding_dimension"]),
            "pad_token": tokenizer_config.get("pad_token", "[PAD]")}


def load_tokenizer(model_path: str | Path, max_seq_length: int, pad_token: str):
    tokenizer = Tokenizer.from_file(str(Path(model_path) / "tokenizer.json"))
    # tokenizer.json may carry its own fixed padding/truncation (MiniLM's says pad to 128):
    # sentence-transformers truncates at max_seq_length and pads to the batch's longest text.
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_seq_length)
    pad_id = tokenizer.token_to_id(pad_token)
    tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=pad_token)
    return tokenizer


class OnnxSentenceEncoder:
    """One ONNX Runtime session over an exported model file plus the model folder's tokenizer."""

    def __init__(self, onnx_file: str | Path, model_path: str | Path, threads: int | None = None,
                 spinning: bool = False):
        import onnxruntime  # heavy: loaded with the model, never when learner.embedding is imported

        config = read_sentence_transformer_config(model_path)
        self.dimension = config["dimension"]
        self.tokenizer = load_tokenizer(model_path, config["max_seq_length"], config["pad_token"])
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(threads or 0)  # 0 = ONNX Runtime's default (physical cores)
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        # Idle threads sleep instead of spinning by default: spinning bought no speed here
        # (bench/results/encode.json, "onnx-fp32-spinning") and burns CPU that other workers need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        self.session = onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_name = self.session.get_outputs()[0].name

    def _batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask,
                 "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
        hidden = self.session.run([self.output_name], {k: feeds[k] for k in self.input_names})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(len(texts), d) float32 unit rows, in the order given."""
        texts = [str(t) for t in texts]
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Longest first, as sentence-transformers batches: similar lengths share a batch, little padding.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            out[rows] = self._batch([texts[i] for i in rows])
        return out
