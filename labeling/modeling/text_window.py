"""How much of a text the model reads: its encoder's window (``learner.encoders.window``), for the
predict answer (a note on each text the encoder cut) and for the pages that tell a lead about it."""
from __future__ import annotations

from django.conf import settings

from labeling.projects.models import Project
from learner.encoders.window import EncoderWindow, encoder_window

from .final import VersionEncoder
from .models import ModelVersion
from .versions import active_model


def version_window(version: ModelVersion) -> EncoderWindow | None:
    """The window of the encoder a version's head reads (a final model's fine-tuned encoder may have
    a shorter one); None where its folder is not on this host."""
    return encoder_window(VersionEncoder(version).path)


def project_window(project: Project) -> EncoderWindow | None:
    """The window of the project's active model, else (no model yet, or its folder is not here) the
    configured encoder's."""
    version = active_model(project)
    window = version_window(version) if version is not None else None
    return window or encoder_window(settings.LONGTAIL_MODEL_PATH)


def window_fields(version: ModelVersion, texts: list[str]) -> list[dict]:
    """Per text: ``truncated``, and for a text longer than the encoder's window, ``tokens`` (word
    pieces in all, [CLS] and [SEP] included), ``tokens_read``, ``chars_read`` and a
    ``truncation_note`` to read. Counted with the encoder's own tokenizer (not the model)."""
    window = version_window(version)
    if window is None:
        return [{} for _ in texts]
    out = []
    for text, seen in zip(texts, window.measure(texts), strict=True):
        if not seen.truncated:
            out.append({"truncated": False})
            continue
        out.append({"truncated": True, "tokens": seen.tokens, "tokens_read": seen.tokens_read,
                    "chars_read": seen.chars_read,
                    "truncation_note": (f"the model read only the first {seen.tokens_read} of this text's "
                                        f"{seen.tokens} tokens (its first {seen.chars_read:,} of {len(text):,} "
                                        "characters); the rest was cut and does not count in this prediction")})
    return out
