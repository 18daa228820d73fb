"""Hotkeys a new project's labels get (API and new-project form, one rule): the top-level labels
first in line order, then the fine labels in line order with the keys left; the Other label 0."""
from rest_framework.test import APIClient

from labeling.projects.hotkeys import HOTKEY_ORDER
from labeling.projects.models import Label


def create(make_user, slug, lines, **extra):
    client = APIClient()
    client.force_authenticate(make_user("lead", superuser=True))
    response = client.post("/api/projects/", {"slug": slug, "name": slug, "labels": lines, **extra}, format="json")
    assert response.status_code == 201, response.content
    return {label.name: label for label in Label.objects.filter(project__slug=slug)}


def test_coarse_labels_take_the_first_keys_and_fine_labels_the_rest_in_line_order(make_user):
    labels = create(make_user, "tickets", ["billing > refund", "billing > invoice", "login", "security > phishing",
                                           "Other", "security > spoofing"])
    assert {name: label.hotkey for name, label in labels.items()} == {
        "billing": "1", "login": "2", "security": "3", "refund": "4", "invoice": "5", "phishing": "6",
        "spoofing": "7", "Other": "0"}
    assert labels["Other"].is_other
    # the page's order stays the lines' order: each coarse label with its fine labels
    ordered = [label.name for label in sorted(labels.values(), key=lambda label: label.order)]
    assert ordered == ["billing", "refund", "invoice", "login", "security", "phishing", "spoofing", "Other"]


def test_fine_labels_past_the_last_key_get_none_while_every_coarse_label_has_one(make_user):
    lines = [f"c{c} > f{c}-{f}" for c in range(8) for f in range(6)]  # 8 coarse, 48 fine: more than the keys
    labels = create(make_user, "big", lines, other_label=True)
    assert [labels[f"c{c}"].hotkey for c in range(8)] == list(HOTKEY_ORDER[:8])
    fine = [labels[f"f{c}-{f}"].hotkey for c in range(8) for f in range(6)]
    assert fine == list(HOTKEY_ORDER[8:]) + [""] * (48 - len(HOTKEY_ORDER) + 8)
    assert labels["Other"].hotkey == "0"
