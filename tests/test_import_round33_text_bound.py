"""Long texts and the search index: "Maximum text length" has a ceiling that PostgreSQL's search
document (a generated tsvector, at most 1 MB) holds; the import refuses a longer text by file, line
and field even for a project saved with a larger value, and a text under the ceiling whose search
document would still not fit (many distinct long words) is refused the same way in pass 1, instead
of the whole write failing with a bare database error. --skip-invalid imports the other rows."""
import csv
import importlib
import json
import random

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from labeling.items.models import ImportBatch, Item
from labeling.items.services import import_path
from labeling.projects.models import Project

pytestmark = pytest.mark.django_db

SQUARED_WORDS = [chr(code) for code in range(0x3300, 0x3358)]  # ㌀ ... : NFKC unfolds each to 3-5 Katakana


def write_jsonl(path, texts):
    path.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts), encoding="utf-8")
    return path


def ordinary_long_text(chars: int) -> str:
    rng = random.Random(0)
    words = ("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(7)) for _ in range(chars))
    return " ".join(words)[:chars]


def settings_post(client, changes):
    form = client.get("/p/alpha/settings/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and v is not False
            and not isinstance(v, (dict, list))}
    data.update({"mix_rare": "0.4", "mix_uncertainty": "0.3", "mix_diversity": "0.2"})
    data.update({k: str(v) for k, v in changes.items()})
    return client.post("/p/alpha/settings/", data)


def test_the_settings_refuse_a_length_the_search_index_cannot_hold(client, world):
    message = "Maximum text length must be at most 100,000 characters; got 2,000,000."
    api = APIClient()
    api.force_authenticate(world["lead"])
    answer = api.patch("/api/projects/alpha/", {"max_text_chars": 2_000_000}, format="json")
    assert answer.status_code == 400
    assert answer.json()["max_text_chars"][0].startswith(message)
    assert "search index" in answer.json()["max_text_chars"][0]
    client.force_login(world["lead"])
    body = settings_post(client, {"max_text_chars": 2_000_000}).content.decode()
    assert "Nothing was saved." in body and message in body
    assert Project.objects.get(pk=world["alpha"].pk).max_text_chars == 20_000
    assert api.patch("/api/projects/alpha/", {"max_text_chars": 100_000}, format="json").status_code == 200
    assert Project.objects.get(pk=world["alpha"].pk).max_text_chars == 100_000


def test_a_project_saved_with_a_larger_limit_refuses_the_long_row_by_line(project_factory, tmp_path):
    project = project_factory("long")
    Project.objects.filter(pk=project.pk).update(max_text_chars=2_000_000)  # saved before the ceiling
    project.refresh_from_db()
    long_text = ordinary_long_text(1_200_000)
    path = write_jsonl(tmp_path / "long.jsonl", ["a short valid row", long_text, "another short row"])
    result = import_path(project, path, skip_invalid=True, rejects_path=tmp_path / "rejects.csv")
    assert result.ok and result.batch.state == ImportBatch.DONE, [e.format("long.jsonl") for e in result.errors]
    assert sorted(Item.objects.filter(project=project).values_list("text", flat=True)) == [
        "a short valid row", "another short row"]
    assert [(e.line, e.field) for e in result.errors] == [(2, "text")]
    assert "the text has 1,200,000 characters, over the limit of 100,000" in result.errors[0].message
    with open(tmp_path / "rejects.csv", newline="", encoding="utf-8") as handle:
        rejected = list(csv.DictReader(handle))
    assert [(row["line"], row["field"]) for row in rejected] == [("2", "text")]


def test_a_text_under_the_ceiling_whose_search_document_overflows_is_refused_by_line(
        postgres_only, project_factory, tmp_path):
    project = project_factory("dense")
    Project.objects.filter(pk=project.pk).update(max_text_chars=100_000)
    project.refresh_from_db()
    rng = random.Random(1)
    words = ("-".join("".join(rng.choice(SQUARED_WORDS) for _ in range(8)) for _ in range(8)) for _ in range(2000))
    dense = " ".join(words)[:80_000]  # ~2 MB of distinct words and positions for PostgreSQL's 1 MB
    fits = ordinary_long_text(99_000)  # under the ceiling and far inside the index
    path = write_jsonl(tmp_path / "dense.jsonl", ["first", dense, fits, "last"])

    refused = import_path(project, path)
    assert not refused.ok and Item.objects.filter(project=project).count() == 0
    assert [(e.line, e.field) for e in refused.errors] == [(2, "text")]
    assert "cannot be indexed for search" in refused.errors[0].message
    assert "string is too long for tsvector" in refused.errors[0].message

    result = import_path(project, path, skip_invalid=True, rejects_path=tmp_path / "rejects.csv")
    assert result.ok and result.batch.state == ImportBatch.DONE
    assert [(e.line, e.field) for e in result.errors] == [(2, "text")]
    assert sorted(Item.objects.filter(project=project).values_list("text", flat=True)) == sorted(["first", fits, "last"])


def test_the_migration_lowers_a_stored_limit_above_the_ceiling(project_factory):
    high, ordinary = project_factory("high"), project_factory("ordinary")
    Project.objects.filter(pk=high.pk).update(max_text_chars=2_000_000)
    Project.objects.filter(pk=ordinary.pk).update(max_text_chars=50_000)
    migration = importlib.import_module("labeling.projects.migrations.0014_max_text_chars_ceiling")
    migration.lower_to_ceiling(apps, None)
    assert dict(Project.objects.filter(pk__in=[high.pk, ordinary.pk]).values_list("slug", "max_text_chars")) == {
        "high": 100_000, "ordinary": 50_000}
