"""A labeled file that spells a label in another Unicode normalization form is refused, with a
message that shows the two names identically.

"Ödeme" typed on one machine is U+00D6 (NFC); the same word from macOS text, some PDF or web
copies, and every Hangul string the macOS file system or clipboard hands over is decomposed (NFD:
"O" + U+0308, Korean syllables as jamo). The two are canonically equivalent: Unicode says they are
the same text, and they render identically. The importer compares label names exactly and then
looks for look-alikes (labeling/items/look_alike.py), so the row is refused: "'Ödeme' looks like
the existing label “Ödeme” … write “Ödeme” exactly", a message the lead cannot act on: both names
print the same, and nothing in the spreadsheet shows the difference. The whole file imports nothing.
(The same check folds NFKC and case for its look-alike key; canonical equivalence is not a
look-alike but the same name.)"""
import json
import unicodedata

import pytest

from labeling.annotations.models import Annotation
from labeling.items.services import import_path
from labeling.projects.models import Label

pytestmark = pytest.mark.django_db

NAMES = ("Ödeme", "환불", "σφάλμα")


@pytest.fixture
def project(project_factory):
    return project_factory("nfd", labels=NAMES, sources=("web",))


@pytest.mark.parametrize("name", NAMES)
def test_a_label_written_decomposed_is_the_existing_label(project, tmp_path, name):
    decomposed = unicodedata.normalize("NFD", name)
    assert decomposed != name and unicodedata.normalize("NFC", decomposed) == name
    path = tmp_path / "labeled.jsonl"
    path.write_text(json.dumps({"text": "a ticket that carries this label", "source": "web", "label": decomposed},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    result = import_path(project, path)
    assert result.ok, [e.format("labeled.jsonl") for e in result.errors]
    assert list(Annotation.objects.filter(project=project).values_list("label__name", flat=True)) == [name]
    assert Label.objects.filter(project=project).count() == len(NAMES)


def test_a_label_a_lead_created_decomposed_takes_the_typed_name(world, tmp_path):
    """The other way round: the label API keeps a name exactly as sent, so a label created from
    decomposed text ("C" + U+0327 ...) is stored decomposed, and a file typed on an ordinary
    keyboard (composed "Çağrı") is then refused as a look-alike of it."""
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(world["lead"])
    created = api.post("/api/projects/alpha/labels/", {"name": unicodedata.normalize("NFD", "Çağrı"), "hotkey": "c"},
                       format="json")
    assert created.status_code == 201, created.content
    path = tmp_path / "labeled.jsonl"
    path.write_text(json.dumps({"text": "a ticket about a call", "label": "Çağrı"}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    result = import_path(world["alpha"], path)
    assert result.ok, [e.format("labeled.jsonl") for e in result.errors]
    assert list(Annotation.objects.filter(project=world["alpha"]).values_list("label_id", flat=True)) == [
        created.json()["id"]]


def test_a_source_written_decomposed_is_the_existing_source(project_factory, tmp_path):
    """Sources the same way: "unknown source 'Café' (known: Café, web)"."""
    project = project_factory("nfdsrc", labels=("billing",), sources=("Café", "web"))
    path = tmp_path / "tickets.jsonl"
    path.write_text(json.dumps({"text": "a ticket from the café", "source": unicodedata.normalize("NFD", "Café")},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    result = import_path(project, path)
    assert result.ok, [e.format("tickets.jsonl") for e in result.errors]
    assert list(project.items.values_list("source__name", flat=True)) == ["Café"]
