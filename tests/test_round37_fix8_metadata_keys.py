"""Metadata keys the import stores must be fields a lead can show to annotators. Before, the
import stored a key of 5,000 characters (the display setting takes at most 100) and a key holding a
comma (the settings page splits its field on commas, so it could never be chosen there). Now the
import refuses such a key, naming the file, the line and the column; a key of 100 characters still
imports and can be shown."""
import json

import pytest
from rest_framework.test import APIClient

from labeling.items.models import Item
from labeling.items.services import import_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(project_factory):
    return project_factory("metakeys", labels=("billing", "login"), sources=("email",))


def refused(project, path, name):
    result = import_path(project, path)
    assert not result.ok
    assert Item.objects.filter(project=project).count() == 0
    return [e.format(name) for e in result.errors]


def test_a_key_longer_than_the_setting_takes_is_refused(project, tmp_path):
    path = tmp_path / "longmeta.csv"
    path.write_text("text,source," + "k" * 5000 + "\nhello,email,x\n")
    errors = refused(project, path, "longmeta.csv")
    assert errors[0].startswith("longmeta.csv, line 2, field 'metadata': the metadata key (column) “kkk")
    assert "has 5,000 characters" in errors[0] and "at most 100 characters" in errors[0]
    assert len(errors[0]) < 600  # the key is quoted cut, not whole


def test_a_key_with_a_comma_is_refused(project, tmp_path):
    path = tmp_path / "c_commakey.csv"
    path.write_text('text,source,"region, country",tier\nhello,email,EU,gold\n')
    errors = refused(project, path, "c_commakey.csv")
    assert errors == ["c_commakey.csv, line 2, field 'metadata': the metadata key (column) “region, country” "
                      "contains a comma: the settings page lists the fields shown to annotators separated by "
                      "commas, so it could never be chosen there; rename the column (e.g. with '/' or ';' "
                      "instead of the comma)"]


def test_jsonl_keys_follow_the_same_rule(project, tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"text": "hello", "source": "email", "a,b": 1}) + "\n")
    assert "contains a comma" in refused(project, path, "rows.jsonl")[0]


def test_a_key_the_setting_can_name_imports_and_is_shown(project, tmp_path, make_user):
    key = "k" * 100
    path = tmp_path / "ok.csv"
    path.write_text(f"text,source,{key},region / country\nhello,email,x,EU\n")
    result = import_path(project, path)
    assert result.ok, [e.format("ok.csv") for e in result.errors]
    admin = APIClient()
    admin.force_authenticate(make_user("admin37m", superuser=True))
    response = admin.patch(f"/api/projects/{project.slug}/", {"annotator_metadata": [key, "region / country"]},
                           format="json")
    assert response.status_code == 200, response.content
