"""``isolate``: user text (a project, label or user name, a rule's pattern) set into a sentence that
is not HTML, where <bdi> cannot go (a title attribute, a confirmation question, the page title), and
in the headings beside those titles, so that both read alike.
Text with right-to-left letters or direction controls is wrapped in FIRST STRONG ISOLATE ... POP
DIRECTIONAL ISOLATE, so that a name holding a right-to-left override reverses itself and not the
rest of the sentence; other text is left as it is (nothing to isolate, and it copies unchanged)."""
import unicodedata

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeData, mark_safe

register = template.Library()

FIRST_STRONG_ISOLATE, POP_DIRECTIONAL_ISOLATE = "\u2068", "\u2069"
_OPENS_ISOLATE = frozenset({"LRI", "RLI", "FSI"})
_NEEDS_ISOLATION = frozenset({"R", "AL", "AN", "LRE", "RLE", "LRO", "RLO", "PDF", *_OPENS_ISOLATE, "PDI"})


def isolated(text: str) -> str:
    """The text as one isolated run: a pop (PDI) of the text's own that closes no isolate of the text
    is dropped (it would close the wrapper early; alone it does nothing), and isolates the text opens
    are closed before the wrapper's own pop, which would otherwise close one of them instead."""
    if not any(unicodedata.bidirectional(c) in _NEEDS_ISOLATION for c in text):
        return text
    kept, open_isolates = [], 0
    for c in text:
        kind = unicodedata.bidirectional(c)
        if kind in _OPENS_ISOLATE:
            open_isolates += 1
        elif kind == "PDI":
            if not open_isolates:
                continue
            open_isolates -= 1
        kept.append(c)
    return FIRST_STRONG_ISOLATE + "".join(kept) + POP_DIRECTIONAL_ISOLATE * (open_isolates + 1)


@register.filter(needs_autoescape=True)
def isolate(value, autoescape=True):
    """{{ name|isolate }}: the value isolated (``isolated``), HTML-escaped as the template escapes."""
    text = isolated(str(value))
    if isinstance(value, SafeData):
        return mark_safe(text)  # already HTML: the added and removed characters are no markup
    return mark_safe(escape(text)) if autoescape else text
