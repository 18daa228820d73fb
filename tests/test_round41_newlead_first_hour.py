"""A lead's first hour on a fresh project: what the waves page and the dashboard say at the tiny
states (a first wave smaller than asked for, a model trained on a handful of labels)."""
import re
from types import SimpleNamespace

import numpy as np
import pytest

from labeling.projects import dashboard
from labeling.projects.models import Membership
from learner.metrics import classification_report

from .test_loop_helpers import build_project


def _text(response) -> str:
    body = re.sub(r"(?s)<script.*?</script>", " ", response.content.decode())
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


@pytest.mark.django_db
def test_a_wave_smaller_than_asked_says_why_on_the_waves_page_and_api(project_factory, make_user, client,
                                                                      eager_tasks):
    """docs/loop.md: "A wave smaller than the size asked for says why in report["short_of_requested"]".
    The report has it, but no page or endpoint shows it: the lead who asked for 1000 sees
    "Wave 1 planned (8 items)" and a Notes column of "—"."""
    project, _ = build_project(project_factory, slug="tiny", n_items=8, n_labeled=0, wave_size=1000, batch_size=20)
    lead = make_user("lea")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    client.force_login(lead)
    client.post(f"/p/{project.slug}/waves/plan/", {"newest": "0"})
    wave = project.waves.get(number=1)
    why = wave.report.get("short_of_requested")
    assert why and wave.size < 1000  # the planner knows why the wave is short
    notes = client.get(f"/api/projects/{project.slug}/waves/current/").json()["notes"]
    page = _text(client.get(f"/p/{project.slug}/waves/"))
    assert any("asked for" in note for note in notes), notes
    assert "asked for" in page


def _version(report, counts):
    return SimpleNamespace(number=1, state="active", train_size=sum(counts.values()),
                           metrics={"validation": report, "class_counts": counts})


def test_learning_curve_follows_the_small_n_rule_of_every_other_figure():
    """10 labeled items, 2-3 per label: the per-class table shows "—" for every figure (fewer than
    MIN_N items), yet the learning curve plots a macro-F1 and a rare-label recall made of exactly
    those figures (0.100 and 0.083 in the walk-through)."""
    truth = ["billing"] * 3 + ["login"] * 3 + ["fraud"] * 2 + ["password"] * 2
    predicted = ["billing"] * 6 + ["fraud"] * 2 + ["billing"] * 2
    report = classification_report(truth, predicted, None, ["billing", "fraud", "login", "password"])
    counts = {"billing": 3, "login": 3, "fraud": 2, "password": 2}
    assert all(row[k] is None for row in dashboard.per_class_table(report) for k in ("recall", "f1"))
    point = dashboard.learning_curve([_version(report, counts)], rare_threshold=500)[0]
    assert point["macro_f1"] is None, f"macro-F1 {point['macro_f1']:.3f} plotted from {len(truth)} items"
    assert point["rare_recall"] is None, f"rare recall {point['rare_recall']:.3f} from {len(truth)} items"


def test_pool_score_ece_is_not_given_when_every_bin_is_too_few():
    """4 scored labeled items: every reliability bin is "fewer than 5: not drawn", yet the panel's
    caption reads "ECE 0.237" (the walk-through's model v1), a figure made of those bins."""
    proba = np.array([[0.74, 0.26], [0.73, 0.27], [0.26, 0.74], [0.16, 0.84]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    out = dashboard.reliability(None, {"classes": ["a", "b"], "proba": proba, "y": y})
    assert all(b["too_few"] or not b["count"] for b in out["bins"])
    assert out["ece"] is None, f"ECE {out['ece']:.3f} shown from {len(y)} items"


def test_confusion_matrix_accounts_for_every_validation_row():
    """With a taxonomy, a held-out row emitted as its coarse label (a fallback) is in no column: the
    dashboard's matrix silently loses it. In the walk-through (blend, fine floor 0.75, 10 labels)
    the matrix summed to 2 of 10 items: billing's row showed 1 of its 3 items, fraud's and
    password's rows were all zeros."""
    truth = ["billing"] * 3 + ["login"] * 3 + ["fraud"] * 2 + ["password"] * 2
    predicted = ["billing", "account", "account", "billing"] + ["account"] * 6
    report = classification_report(truth, predicted, None, ["billing", "fraud", "login", "password"])
    shown = dashboard.confusion(report)
    assert np.asarray(shown["matrix"]).sum() == len(truth), (
        f"the matrix shows {int(np.asarray(shown['matrix']).sum())} of {len(truth)} rows, with no column for "
        "the coarse fallbacks")


@pytest.mark.django_db
def test_learning_curve_does_not_say_no_model_while_one_is_active(project_factory, make_user, client):
    """A first model trained on 4 labels ("temperature kept at 1, thresholds at 0, metrics not
    estimated") is active, named on the waves page and in the dashboard's status line, while the
    Learning curve card says "No trained model yet."."""
    from labeling.modeling.models import ModelVersion

    project = project_factory("first")
    ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE, train_size=4,
                                label_map=["billing", "login", "fraud"],
                                metrics={"notes": ["temperature kept at 1, thresholds at 0, metrics not estimated"],
                                         "not_estimable": ["billing", "login", "fraud"]})
    lead = make_user("lea")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    client.force_login(lead)
    data = client.get(f"/api/projects/{project.slug}/dashboard/").json()
    assert data["model"]["number"] == 1 and data["learning_curve"] == []
    page = client.get(f"/p/{project.slug}/dashboard/").content.decode()
    card = page[page.index("<h2>Learning curve</h2>"):].split("</section>")[0]
    assert "No trained model yet" not in card, card


@pytest.mark.django_db
def test_fresh_project_overview_points_the_lead_to_the_import_not_to_planning(project_factory, make_user, client):
    """A lead's first look at a new project (0 items): the overview's one instruction is "No wave is
    open right now — plan one on the waves page", and planning then refuses with "has no items yet:
    import some on the import page first". The same line shows once every item is answered."""
    project = project_factory("fresh")
    lead = make_user("lea")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    client.force_login(lead)
    page = _text(client.get(f"/p/{project.slug}/"))
    assert "0 items" in page
    assert "plan one on the waves page" not in page, page[page.index("No wave"):][:120]
