"""A .tsv is read without CSV quoting: a double quote is an ordinary character and every physical
line is one row (plain TSV — IANA text/tab-separated-values, GLUE, PostgreSQL's COPY text output —
has no quoting). Read with CSV quoting, a text starting with a quote ran on to the next quote: two
rows became one item carrying the second row's label, or a valid row was refused as malformed."""
import csv as csv_module

import pytest

from labeling.annotations.models import Annotation
from labeling.items.models import ImportBatch, Item
from labeling.items.services import import_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(project_factory):
    return project_factory("tsv", labels=("billing", "login"), sources=("email",))


def stored(project):
    labels = dict(Annotation.objects.filter(project=project).values_list("item__text", "label__name"))
    return [(text, labels.get(text)) for text in Item.objects.filter(project=project).order_by("id")
            .values_list("text", flat=True)]


def test_a_text_starting_with_a_quote_stays_one_row_with_its_own_label(project, tmp_path):
    path = tmp_path / "silent_merge.tsv"
    path.write_bytes(b'text\tlabel\n"Worst airline ever\tbilling\nwhy is my bag late"\tlogin\nfine thanks\tbilling\n')
    result = import_path(project, path)
    assert result.ok, [e.format("f") for e in result.errors]
    assert result.rows_total == 3 and result.rows_imported == 3
    assert stored(project) == [('"Worst airline ever', "billing"), ('why is my bag late"', "login"),
                               ("fine thanks", "billing")]


def test_a_quoted_word_followed_by_more_text_is_not_malformed(project, tmp_path):
    path = tmp_path / "refused.tsv"
    path.write_bytes(b'text\tlabel\n"Best" airline ever\tbilling\nok\tlogin\n5" screen\tbilling\n')
    result = import_path(project, path)
    assert result.ok, [e.format("f") for e in result.errors]
    assert result.batch.state == ImportBatch.DONE
    assert stored(project) == [('"Best" airline ever', "billing"), ("ok", "login"), ('5" screen', "billing")]
    # A CSV keeps its quoting: a quoted cell may hold the delimiter, quotes and line breaks.
    path = tmp_path / "quoted.csv"
    path.write_bytes(b'text,label\n"Hello, ""world""\nagain",login\n')
    assert import_path(project, path).ok
    assert stored(project)[-1] == ('Hello, "world"\nagain', "login")


def test_line_numbers_stay_physical_lines_after_a_quote(project, tmp_path):
    path = tmp_path / "numbers.tsv"
    path.write_bytes(b'text\tlabel\n"a\tbilling\nb\tlogin\nc\tbilling\textra\n"d\tnope\n')
    result = import_path(project, path)
    assert not result.ok and Item.objects.filter(project=project).count() == 0
    found = [(e.line, e.field) for e in result.errors]
    assert found == [(4, None), (5, "label")], [e.format("numbers.tsv") for e in result.errors]
    assert "the row has 3 fields, the header has 2" in result.errors[0].message
    assert "unknown label 'nope'" in result.errors[1].message


def test_a_tsv_written_with_quoting_is_read_with_it(project_factory, tmp_path):
    """What pandas' to_csv(sep="\\t") and spreadsheets write: a cell holding a quote is wrapped in
    quotes and its quotes doubled. Read plain, every such text kept the quoting."""
    project = project_factory("tsv-quoted", labels=("billing", "login"))
    rows = [("She said \"refund me\" twice", "billing"), ("plain text", "login"), ("\"quoted start\" here", "billing")]
    path = tmp_path / "quoted.tsv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv_module.writer(handle, dialect="excel-tab")
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    assert '"She said ""refund me"" twice"' in path.read_text(encoding="utf-8")
    result = import_path(project, path)
    assert result.ok, [e.message for e in result.errors]
    stored = dict(Item.objects.filter(project=project).values_list("text", "annotations__label__name"))
    assert stored == dict(rows)


def test_a_tsv_mixing_both_ways_is_refused_naming_a_line_of_each(project_factory, tmp_path):
    project = project_factory("tsv-mixed", labels=("billing", "login"))
    path = tmp_path / "mixed.tsv"
    path.write_text('text\tlabel\n"She said ""hi"""\tbilling\n"Best" airline ever\tlogin\n', encoding="utf-8")
    result = import_path(project, path)
    assert not result.ok and not Item.objects.filter(project=project).exists()
    message = " ".join(e.message for e in result.errors)
    assert "cannot be read safely: line 2 has a cell in quotes" in message and "while line 3 has a cell" in message


def test_the_import_page_offers_tsv_files(client, world):
    client.force_login(world["lead"])
    page = client.get("/p/alpha/import/").content.decode()
    assert 'accept=".csv,.tsv,' in page and "CSV, TSV or JSONL file" in page
