"""README's configuration table: "`LONGTAIL_MAX_TEXT_CHARS` | 20,000 | longest item text (1 to
100,000 ...)". Nothing reads it where it could matter: the importer's limit is
``min(project.max_text_chars or settings.LONGTAIL_MAX_TEXT_CHARS, ceiling)`` and a project's
max_text_chars is never 0 (the model's default is a fixed 20,000; PATCH, the settings page and the
admin refuse values below 1), so an operator's LONGTAIL_MAX_TEXT_CHARS=50 lets a 199-character text
in (checked with `LONGTAIL_MAX_TEXT_CHARS=50 manage.py import_items`, too)."""
import json

import pytest
from rest_framework.test import APIClient

from labeling.items.validation import validate

pytestmark = pytest.mark.django_db


def test_the_environment_limit_caps_an_import(world, settings, tmp_path):
    settings.LONGTAIL_MAX_TEXT_CHARS = 50
    api = APIClient()
    api.force_authenticate(world["admin"])
    created = api.post("/api/projects/", {"slug": "capped", "name": "Capped", "labels": ["a", "b"],
                                          "sources": ["web"]}, format="json")
    assert created.status_code == 201, created.content
    from labeling.projects.models import Project
    project = Project.objects.get(slug="capped")
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"text": "How long is a very long question " * 6 + "?", "source": "web"}) + "\n")
    checked = validate(project, path, "jsonl")
    # today: project.max_text_chars == 20000 and the row passes (no errors)
    assert checked.error_count == 1, (project.max_text_chars, checked.errors)
