"""A JSON Lines file whose keys are written as a spreadsheet or pandas wrote its column names
("Label", "Source", "External_ID") is read differently from the same data as CSV: the CSV header is
matched case-insensitively (docs/intake.md), the JSONL keys are not, so the labels, sources and
external ids go into metadata and the import reports success with every item unlabeled."""
import pytest

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.items.services import import_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(project_factory):
    return project_factory("keycase", labels=("billing", "login"), sources=("email",))


def test_csv_reads_capitalised_column_names(project, tmp_path):
    path = tmp_path / "sheet.csv"
    path.write_bytes(b"text,Label,Source,External_ID\r\nhello,billing,email,X1\r\n")
    assert import_path(project, path).ok
    item = Item.objects.get(project=project)
    assert (item.external_id, item.source.name, item.metadata) == ("X1", "email", {})
    assert Annotation.objects.get(item=item).label.name == "billing"


def test_jsonl_with_the_same_keys_is_read_the_same_way(project, tmp_path):
    path = tmp_path / "sheet.jsonl"  # pandas: df.to_json(orient="records", lines=True) of the same sheet
    path.write_bytes(b'{"text":"hello","Label":"billing","Source":"email","External_ID":"X1"}\n')
    result = import_path(project, path)
    item = Item.objects.get(project=project)
    # Either read as the known fields (as CSV does) or refused naming the key; never a silent "ok"
    # with the label, source and external id filed away as metadata.
    assert not (result.ok and item.metadata == {"Label": "billing", "Source": "email", "External_ID": "X1"}), \
        "the JSONL row's label, source and external id were silently stored as metadata"
