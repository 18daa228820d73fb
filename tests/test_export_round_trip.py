"""A project's label export imports into another project as it left: texts (formula-like ones
included), external ids, sources, labels and coarse labels, metadata (JSONL with its types, CSV as
text), and none of the export's provenance columns turn into metadata. The operations audit found
JSONL metadata nested one level deeper per round trip, provenance stored as metadata, and 196 of
200 tweets starting with @ re-imported as '@… from the default CSV."""
import json

import pytest

from labeling.export import services as export
from labeling.items.importer import run_import
from labeling.items.models import Item
from labeling.projects.models import Label

pytestmark = pytest.mark.django_db

ROWS = [
    {"text": "@united where is my bag", "external_id": "ext,0\"q", "label": "lost bag", "source": "social",
     "airline": "United", "score": 3, "nested": {"note": "a\nb"}},
    {"text": "=1+2 charged twice\nsecond line, \"quoted\"", "external_id": "-17", "label": "refund",
     "source": "email", "airline": "Delta", "score": 0.5},
    {"text": "+44 call me back ✈️ 中文", "label": "praise", "source": "email", "flag": True},
    {"text": "plain ticket about a refund", "external_id": "t-4", "label": "billing", "source": "social"},
    # texts that really start with ' (the re-verification audit: both CSVs lost it)
    {"text": "'=quoted formula in a tweet' said the agent", "label": "praise", "source": "email"},
    {"text": "'@united' is how you tag them", "label": "praise", "source": "email", "note": "'kept'"},
    {"text": "''twice quoted", "label": "billing", "source": "social"},
]


def make_project(project_factory, slug):
    project = project_factory(slug, labels=("praise",), sources=("email", "social"))
    billing = Label.objects.create(project=project, name="billing", hotkey="8")
    Label.objects.create(project=project, name="refund", parent=billing, hotkey="7")
    Label.objects.create(project=project, name="lost bag", hotkey="6")
    return project


def items_of(project):
    return {item.text: item for item in Item.objects.filter(project=project).select_related("source")}


@pytest.mark.parametrize(("fmt", "options"), [("jsonl", {}), ("csv", {"neutralise_formulas": True}),
                                              ("csv", {"neutralise_formulas": False})])
def test_an_export_imports_into_another_project_as_it_left(project_factory, tmp_path, fmt, options):
    origin = make_project(project_factory, "origin")
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in ROWS), encoding="utf-8")
    assert run_import(origin, source).ok
    exported = tmp_path / f"out.{fmt}"
    exported.write_text("".join(export.stream_export(origin, fmt, **options)), encoding="utf-8")
    if fmt == "csv" and options["neutralise_formulas"]:
        written = exported.read_text(encoding="utf-8")  # the guard was written, one ' more on a leading '
        assert "'@united where is my bag" in written and "''@united' is how" in written
        assert "'''twice quoted" in written

    copy = make_project(project_factory, f"copy-{fmt}-{len(options)}-{options.get('neutralise_formulas')}".lower())
    result = run_import(copy, exported)
    assert result.ok, [e.message for e in result.errors]
    before, after = items_of(origin), items_of(copy)
    assert set(after) == set(before) == {row["text"] for row in ROWS}
    for text, item in after.items():
        old = before[text]
        assert (item.external_id, item.source.name) == (old.external_id, old.source.name)
        label = item.annotations.get().label
        assert (label.name, label.parent.name if label.parent else None) == \
               (old.annotations.get().label.name, old.annotations.get().label.parent.name
                if old.annotations.get().label.parent else None)
        if fmt == "jsonl":
            assert item.metadata == old.metadata  # types kept
        else:  # CSV has no types: values come back as text (lists and objects as JSON)
            assert item.metadata == {key: value if isinstance(value, str) else
                                     json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else
                                     ("true" if value is True else str(value))
                                     for key, value in old.metadata.items()}
        assert not set(item.metadata) & {"item_id", "votes", "label_source", "split", "metadata", "agreement"}


def test_an_ordinary_file_with_a_column_named_like_provenance_keeps_it(project_factory, tmp_path):
    """Only a file with the export's provenance columns together is read as an export."""
    project = make_project(project_factory, "plain")
    path = tmp_path / "plain.csv"
    path.write_text("text,split,meta.team\n'=a formula kept as written,train,ops\n", encoding="utf-8")
    assert run_import(project, path).ok
    item = Item.objects.get(project=project)
    assert item.text == "'=a formula kept as written" and item.metadata == {"split": "train", "meta.team": "ops"}
