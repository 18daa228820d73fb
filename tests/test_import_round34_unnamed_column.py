"""A column without a name in the header is kept as metadata under its place (``column_1`` for the
first), not refused: pandas' ``DataFrame.to_csv()`` writes its index first with an empty header
cell, so refusing every row for an empty metadata key refused such files whole (one error per row).
Two unnamed columns are two keys; an empty cell stores nothing, as in any other column."""
import pytest

from labeling.items.models import Item
from labeling.items.services import import_path

pytestmark = pytest.mark.django_db


def test_a_pandas_index_column_is_kept_as_metadata(project_factory, tmp_path):
    project = project_factory("pandas", labels=("banking", "travel"), sources=())
    path = tmp_path / "frame.csv"
    path.write_text(",text,label\n0,row zero,banking\n1,row one,travel\n", encoding="utf-8")
    result = import_path(project, path)
    assert result.ok, [e.format("frame.csv") for e in result.errors]
    assert list(Item.objects.filter(project=project).order_by("id").values_list("text", "metadata")) == [
        ("row zero", {"column_1": "0"}), ("row one", {"column_1": "1"})]


def test_two_unnamed_columns_are_two_keys_and_empty_cells_store_nothing(project_factory, tmp_path):
    project = project_factory("unnamed", labels=("banking",), sources=())
    path = tmp_path / "sheet.csv"
    path.write_text("text,,label,\nfirst,x,banking,\nsecond,,banking,y\n", encoding="utf-8")
    result = import_path(project, path)
    assert result.ok, [e.format("sheet.csv") for e in result.errors]
    assert list(Item.objects.filter(project=project).order_by("id").values_list("metadata", flat=True)) == [
        {"column_2": "x"}, {"column_4": "y"}]


def test_an_unnamed_column_whose_place_name_is_taken_says_so(project_factory, tmp_path):
    project = project_factory("taken", labels=("banking",), sources=())
    path = tmp_path / "clash.csv"
    path.write_text(",column_1,text\n0,a,first\n", encoding="utf-8")
    result = import_path(project, path)
    assert not result.ok
    assert [e.format("clash.csv") for e in result.errors] == [
        "clash.csv, line 1, field 'column_1': the column 'column_1' appears twice in the header (an unnamed "
        "column is kept as 'column_1', its place in the header)"]
