"""Messages about labels named in Cyrillic or Greek print the name with its letters as \\uXXXX.

labeling/items/look_alike.py ``shown_apart`` writes every Cyrillic or Greek letter that prints like
a Latin one (а, е, о, с, р, х, α, ο, ν, Μ, Α, …) as ``\\uXXXX``, "so that look-alikes read apart".
It does so for every name in such a message, also when the two names are the same word in one
script and nothing needs telling apart: a Russian team that adds "Сова" twice reads
“\\u0421\\u043eв\\u0430” already exists; a Greek team told about "σφάλμα" reads “σφάλμ\\u03b1” (the
accented ά stays, the plain α does not). The escapes help only where a name mixes scripts
(b\\u0430nking); a name written wholly in one script should read as written."""
import json

import pytest
from rest_framework.test import APIClient

from labeling.items.services import import_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_api(world):
    api = APIClient()
    api.force_authenticate(world["lead"])
    return api


@pytest.mark.parametrize("name", ["Сова", "σφάλμα", "Ακύρωση"])
def test_the_same_name_twice_is_named_as_written(lead_api, name):
    first = lead_api.post("/api/projects/alpha/labels/", {"name": name}, format="json")
    assert first.status_code == 201, first.content
    again = lead_api.post("/api/projects/alpha/labels/", {"name": name}, format="json")
    assert again.status_code == 400
    message = again.json()["name"][0]
    assert f"“{name}”" in message, message


def test_an_import_row_names_a_greek_label_as_written(world, tmp_path):
    from labeling.projects.models import Label

    Label.objects.create(project=world["alpha"], name="σφάλμα", hotkey="s")
    path = tmp_path / "labeled.jsonl"
    path.write_text(json.dumps({"text": "σφάλμα στη σελίδα", "label": "ΣΦΆΛΜΑ"}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    result = import_path(world["alpha"], path)
    assert not result.ok  # a case variant of an existing label is refused, by design
    message = result.errors[0].message
    assert "“σφάλμα”" in message, message
