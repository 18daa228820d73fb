"""A label hotkey is one key as a keyboard types it: a lone combining accent (U+0301) is refused
(it was stored, a key nobody can press alone); a decomposed "e" + U+0301 is named as the one
character "é" to send (it was refused as "not one key" with no hint); a precomposed "é" is a key."""
import pytest

from labeling.projects import hotkeys
from labeling.projects.hotkeys import hotkey_error
from labeling.projects.models import Label
from tests.test_annotation_helpers import api_as

pytestmark = pytest.mark.django_db


def test_the_check_reads_keys_as_typed():
    assert "is a combining mark that only changes the character before it" in hotkey_error("\u0301")
    assert "U+0301" in hotkey_error("\u0301") and "U+20DD" in hotkey_error("\u20dd")
    assert "send it as the one character “\u00e9”" in hotkey_error("e\u0301")
    assert "no key types as one character" in hotkey_error("q\u0301")
    assert hotkeys.normalized_hotkey("e\u0301") == "\u00e9" and hotkey_error(hotkeys.normalized_hotkey("e\u0301")) is None
    # a script's own marks are keys of its keyboards (InScript: the visarga, a vowel sign)
    assert hotkey_error("\u0903") is None and hotkey_error("\u093f") is None
    assert "not one key" in hotkey_error("ab")


def test_api_refuses_a_lone_combining_mark_and_stores_a_decomposed_letter_composed(world):
    api = api_as(world["lead"])
    lone = api.post("/api/projects/alpha/labels/", {"name": "hk3", "hotkey": "\u0301"}, format="json")
    assert lone.status_code == 400 and "combining mark" in lone.json()["hotkey"][0]
    decomposed = api.post("/api/projects/alpha/labels/", {"name": "hk4", "hotkey": "e\u0301"}, format="json")
    assert decomposed.status_code == 201 and Label.objects.get(name="hk4").hotkey == "\u00e9"  # stored composed
    assert not Label.objects.filter(name="hk3").exists()
    composed = api.post("/api/projects/alpha/labels/", {"name": "hk5", "hotkey": "\u00fc"}, format="json")
    assert composed.status_code == 201 and Label.objects.get(name="hk5").hotkey == "\u00fc"
