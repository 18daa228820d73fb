"""Renaming a label moves items between train, val and test in the export.

The README: the split "stays put as labeling goes on", "depends only on which items are labeled,
not on when or in what order", so that "a model trained on a later export has not seen an earlier
export's test set". The export stratifies each duplicate group by its most common label, ties broken
by the label's *name* (labeling.export.services.labeled_index passes names to
learner.splits.stable_group_split). A near-duplicate group whose two items got two different labels
is such a tie: renaming one of the labels so that it sorts on the other side moves the group into
the other label's stratum, and with it the cuts of both strata. Nothing about which items are
labeled changed, yet the next export puts other items in test, some of the earlier test items in
train.

Real importer (near-duplicate grouping included), real label API, real export command."""
import json

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from labeling.items.importer import run_import
from labeling.items.models import Item
from labeling.projects.models import Membership

pytestmark = pytest.mark.django_db

TOPICS = ["invoice", "parcel", "voucher", "laptop", "router", "blender", "printer", "camera", "scooter", "kettle",
          "fridge", "monitor"]

PAIRS = ["the shop portal keeps rejecting me every single morning since",
         "my grandmother tried paying with her old visa card twice on",
         "why does your android application crash whenever I open settings on",
         "we moved offices and nobody can print shipping labels anymore since",
         "a colleague forwarded me a suspicious password reset email last",
         "the loyalty points from my spring purchase vanished overnight on",
         "our team subscription renewed automatically without any warning email on",
         "customer support chat disconnected halfway through my complaint about delays",
         "I typed the verification code from the text message correctly on",
         "the bank statement shows a duplicated debit from your company dated"]


def _rows():
    rows = []
    for i, topic in enumerate(TOPICS):
        rows.append({"text": f"question number {chr(97 + i)} about my {topic} and billing", "label": "billing"})
        rows.append({"text": f"cannot reach the {topic} account page {chr(97 + i) * 3} today", "label": "login"})
    for base in PAIRS:
        # A near-duplicate pair (one word differs), its two items labeled differently: a tie.
        rows.append({"text": f"{base} monday", "label": "billing"})
        rows.append({"text": f"{base} tuesday", "label": "login"})
    return rows


def _splits(tmp_path, name):
    out = tmp_path / name
    call_command("export_labels", "tie", "--format", "jsonl", "--out", str(out))
    return {row["item_id"]: row["split"] for row in map(json.loads, out.read_text(encoding="utf-8").splitlines())}


def test_renaming_a_label_leaves_every_items_split_where_it_was(project_factory, make_user, tmp_path):
    project = project_factory("tie", labels=("billing", "login"), sources=())
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in _rows()), encoding="utf-8")
    result = run_import(project, source)
    assert result.ok, [(e.line, e.field, e.message) for e in result.errors]
    # Precondition: each pair is one near-duplicate group, labeled billing and login once each.
    pairs = {}
    for item in Item.objects.filter(project=project, text__regex=r" (monday|tuesday)$"):
        pairs.setdefault(item.dup_group, []).append(item.pk)
    assert len(pairs) == 10 and all(len(ids) == 2 for ids in pairs.values()), pairs

    before = _splits(tmp_path, "before.jsonl")
    lead = make_user("lea")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    client = APIClient()
    client.force_authenticate(lead)
    billing = project.labels.get(name="billing")
    r = client.patch(f"/api/projects/tie/labels/{billing.pk}/", {"name": "payments"}, format="json")
    assert r.status_code == 200, r.content
    after = _splits(tmp_path, "after.jsonl")

    assert before.keys() == after.keys()
    moved = {pk: (before[pk], after[pk]) for pk in before if before[pk] != after[pk]}
    test_to_train = [pk for pk, (was, now) in moved.items() if was == "test" and now == "train"]
    assert not moved, (f"a rename moved {len(moved)} of {len(before)} items to another split "
                       f"({len(test_to_train)} from test to train): {moved}")
