"""A label created and given while an export streams does not cut the download off. The export
read the project's labels once, at the start, and named each chunk's answers from that; an answer
on a label made after it, fetched with a later chunk, raised KeyError after the 200 had gone out
(the user got a truncated file)."""
import csv
import io
import json

import pytest

from labeling.annotations.models import ReviewTask
from labeling.annotations.review_services import resolve_review
from labeling.export import services
from labeling.items.importer import run_import
from labeling.items.models import Item
from labeling.projects.models import Membership
from labeling.projects.services import save_label

pytestmark = pytest.mark.django_db

ITEMS = 7


@pytest.fixture
def labeled(project_factory, make_user, tmp_path):
    project = project_factory("stream", labels=("billing", "login"), sources=("email",))
    lead = make_user("lena")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"text": f"ticket {i} about a thing", "external_id": f"t{i}",
                                          "label": "billing" if i % 2 else "login", "source": "email"}) + "\n"
                              for i in range(ITEMS)), encoding="utf-8")
    assert run_import(project, source).ok
    return project, lead


def _relabel_last_item_with_a_new_label(project, lead) -> Item:
    """A lead adds a label and adjudicates the last item (in the export's last chunk) with it."""
    label = save_label(project, name="chargeback", hotkey="c")
    item = Item.objects.filter(project=project).order_by("pk").last()
    task = ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LEAD_REQUEST)
    resolve_review(project, lead, task_id=task.pk, label_id=label.pk)
    return item


def test_rows_stream_on_when_a_label_is_created_and_used_between_chunks(labeled):
    project, lead = labeled
    rows = services.iter_rows(project, chunk_size=2)
    first = next(rows)  # the first chunk is read; the last item's chunk is not yet
    item = _relabel_last_item_with_a_new_label(project, lead)
    rest = list(rows)

    assert [row["item_id"] for row in [first, *rest]] == sorted(Item.objects.filter(project=project)
                                                               .values_list("pk", flat=True))
    row = rest[-1]
    assert row["item_id"] == item.pk
    assert (row["label"], row["coarse_label"], row["label_source"]) == ("chargeback", "chargeback", "adjudication")
    assert [vote["label"] for vote in row["votes"]] == ["login", "chargeback"]


def test_the_export_page_download_completes_with_the_new_label(client, labeled, monkeypatch):
    """The same through the page a lead downloads from, with the export's chunk made small."""
    project, lead = labeled
    monkeypatch.setattr(services, "CHUNK", 2)
    client.force_login(lead)
    response = client.get(f"/p/{project.slug}/export/labels.csv")
    assert response.status_code == 200
    stream = iter(response.streaming_content)
    received = [next(stream), next(stream)]  # the header and the first row are on their way
    item = _relabel_last_item_with_a_new_label(project, lead)
    received.extend(stream)

    rows = list(csv.DictReader(io.StringIO(b"".join(received).decode("utf-8"))))
    assert len(rows) == ITEMS
    assert (rows[-1]["item_id"], rows[-1]["label"], rows[-1]["label_source"]) == \
           (str(item.pk), "chargeback", "adjudication")
