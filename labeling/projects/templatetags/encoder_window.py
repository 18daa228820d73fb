"""``{% encoder_window_note project %}``: what a lead is told about how much of a text the model
reads (its encoder's window, ``labeling.modeling.text_window``), as plain text."""
from django import template

from labeling.modeling.text_window import project_window

register = template.Library()


@register.simple_tag
def encoder_window_note(project, short: bool = False) -> str:
    window = project_window(project)
    if window is None:
        return ""
    tokens, chars = window.max_seq_length, window.approx_chars()
    if short:
        return (f" (the model reads only the first {tokens} tokens, about {chars:,} characters, of a text; the rest is "
                "stored and shown but does not change predictions)")
    return (f"The model reads only the first {tokens} tokens (word pieces, about the first {chars:,} characters "
            "of English) of each text: the rest is stored, shown, searched and exported, but does not change the "
            "model's predictions, and two texts that differ only after that point get the same prediction.")
