"""A new project with a real two-level taxonomy (TREC: 6 coarse, 50 fine labels) created through the
API: the annotation page opens a coarse label's fine labels with the coarse label's hotkey, so every
coarse label needs one while keys are left. Hotkeys are handed out in line order, fine labels
included, and run out (29 keys) before the later coarse labels get theirs."""
import json
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from labeling.projects.models import Label

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "trec.jsonl"


def trec_label_lines():
    """'COARSE > COARSE:fine' lines in the order the data set first names each fine label."""
    seen = {}
    with DATA.open() as rows:
        for line in rows:
            row = json.loads(line)
            seen.setdefault(row["label"], row["coarse_label"])
    return [f"{coarse} > {fine}" for fine, coarse in seen.items()]


@pytest.mark.skipif(not DATA.exists(), reason="../shared/datasets is absent")
def test_every_coarse_label_of_a_new_trec_project_gets_a_hotkey(make_user):
    lead = make_user("lead", superuser=True)
    client = APIClient()
    client.force_authenticate(lead)
    response = client.post("/api/projects/", {"slug": "trec", "name": "TREC", "labels": trec_label_lines(),
                                              "other_label": True}, format="json")
    assert response.status_code == 201, response.content
    coarse = Label.objects.filter(project__slug="trec", parent=None, is_other=False)
    assert coarse.count() == 6
    assert Label.objects.filter(project__slug="trec").count() == 57  # 6 coarse, 50 fine, Other
    # 29 keys (1-9 and 20 letters) are enough for the 6 coarse labels; HUM, NUM and LOC got none, so an
    # annotator cannot open them from the keyboard and must type their fine labels' names instead.
    without = sorted(label.name for label in coarse if not label.hotkey)
    assert without == [], f"coarse labels without a hotkey: {without}"
