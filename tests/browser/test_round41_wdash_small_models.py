"""The dashboard of a first model trained on a handful of labels (round 41): the learning curve
card names the active model instead of "No trained model yet.", figures below the small-n rule
are no point (the card says which and why), the reliability caption gives no ECE when every bin
is too few, and the confusion matrix has a column for the held-out rows that fell back to a
coarse label, so its cells add up to every validation row."""
import numpy as np
from playwright.sync_api import expect

from labeling.modeling.models import ModelVersion
from labeling.projects.models import Membership
from learner.metrics import classification_report

CLASSES = ["billing", "fraud", "login", "password"]


def _open(page, live_server, login, make_user, project):
    lead = make_user("lea41")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    login(page, "lea41")
    page.goto(live_server.url + f"/p/{project.slug}/dashboard/")
    page.wait_for_selector("#dashboard[data-ready]")


def test_a_model_without_held_out_metrics_is_named_on_the_learning_curve(
        live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("dash41a", labels=("billing", "login", "fraud"))
    ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE, train_size=4,
                                label_map=["billing", "login", "fraud"],
                                metrics={"notes": ["temperature kept at 1, thresholds at 0, metrics not estimated"]})
    _open(page, live_server, login, make_user, project)
    card = page.locator("section.card", has=page.locator("#chart-curve"))
    expect(card.locator(".empty")).to_be_visible()
    expect(card.locator(".empty")).to_have_text(
        "Model v1 (trained on 4 labels) has no held-out metrics yet: too few labels to estimate them.")
    assert "No trained model yet" not in card.inner_text()
    assert js_errors == []


def test_ten_labels_give_no_curve_point_no_ece_and_a_fallback_column(
        live_server, page, login, make_user, project_factory, js_errors):
    project = project_factory("dash41b", labels=CLASSES)
    truth = ["billing"] * 3 + ["login"] * 3 + ["fraud"] * 2 + ["password"] * 2
    predicted = ["billing", "account", "account", "billing"] + ["account"] * 6  # 8 coarse fallbacks
    top = 0.35 + 0.06 * np.arange(10)  # confidences spread: no reliability bin holds 5 items
    proba = np.repeat(((1 - top) / 3)[:, None], 4, axis=1)
    proba[np.arange(10), [CLASSES.index(t) for t in truth]] = top
    report = classification_report(truth, predicted, proba, CLASSES)
    ModelVersion.objects.create(project=project, number=2, state=ModelVersion.ACTIVE, train_size=10,
                                label_map=CLASSES, metrics={"validation": report,
                                                            "class_counts": {"billing": 3, "login": 3, "fraud": 2,
                                                                             "password": 2}})
    _open(page, live_server, login, make_user, project)
    curve = page.locator("section.card", has=page.locator("#chart-curve"))
    expect(curve.locator("#curve-note")).to_contain_text(
        "v2 macro-F1: 10 held-out items over 4 labels: fewer than 5 per label")
    expect(curve.locator("#curve-note")).to_contain_text("v2 rare-label recall:")
    expect(curve.locator(".empty")).to_be_hidden()

    expect(page.locator("#rel-source")).to_contain_text("ECE not given: 10 items, every bin fewer than 5")
    assert "ECE 0." not in page.locator("#rel-source").inner_text()

    headers = page.locator("#confusion thead th").all_inner_texts()
    assert headers[-1] == "fallback (coarse label)", headers
    cells = [[int(v) for v in row.locator("td").all_inner_texts()] for row in page.locator("#confusion tbody tr").all()]
    assert sum(map(sum, cells)) == len(truth)
    expect(page.locator("#confusion-note")).to_contain_text("8 held-out items fell back to a coarse label")
    assert js_errors == []
