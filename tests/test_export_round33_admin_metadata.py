"""An item's metadata is a JSON object. The Django admin stored [] or "a note" as it was given, after
which the project's CSV export answered 200 and then failed (PostgreSQL: jsonb_object_keys on an
array), and an emptied metadata field was a 500 (NOT NULL). The admin now refuses anything but an
object and stores an empty field as {}. Rows stored before are made objects by a migration
(tests/test_round35_metadata_migration.py)."""
import json

import pytest

from labeling.items.importer import run_import
from labeling.items.models import Item

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(project_factory, tmp_path):
    project = project_factory("meta", labels=("billing", "login"), sources=("email",))
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in [
        {"text": "hello admin", "label": "billing", "source": "email", "channel": "web"},
        {"text": "a list was stored here", "label": "login", "source": "email", "channel": "app"},
        {"text": "a note was stored here", "label": "billing", "source": "email"},
    ]), encoding="utf-8")
    assert run_import(project, source).ok
    return project


def _save_in_admin(admin_client, item, metadata: str):
    form = {"project": item.project_id, "source": item.source_id, "external_id": item.external_id or "",
            "text": item.text, "text_hash": item.text_hash, "dup_group": item.dup_group or "",
            "metadata": metadata, "import_batch": item.import_batch_id or "", "_save": "Save"}
    return admin_client.post(f"/admin/items/item/{item.pk}/change/", form)


def test_the_admin_stores_an_emptied_metadata_field_as_an_empty_object(admin_client, project):
    item = Item.objects.get(project=project, text="hello admin")
    response = _save_in_admin(admin_client, item, "")
    assert response.status_code == 302, response.content.decode()[:2000]
    item.refresh_from_db()
    assert item.metadata == {}


@pytest.mark.parametrize(("typed", "kind"), [("[]", "list"), ('"a note"', "text"), ("3", "number"),
                                             ("[1, 2]", "list")])
def test_the_admin_refuses_metadata_that_is_not_an_object_with_a_message(admin_client, project, typed, kind):
    item = Item.objects.get(project=project, text="hello admin")
    response = _save_in_admin(admin_client, item, typed)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Metadata must be a JSON object of named fields" in page and f"got a JSON {kind}." in page
    item.refresh_from_db()
    assert item.metadata == {"channel": "web"}

    assert _save_in_admin(admin_client, item, '{"channel": "phone", "n": -2}').status_code == 302
    item.refresh_from_db()
    assert item.metadata == {"channel": "phone", "n": -2}
