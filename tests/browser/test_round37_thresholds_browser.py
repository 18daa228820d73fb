"""The thresholds table shows the held-out precision at the labeled items' mix beside the one at
the pool's mix (the figure is stored at tuning since round 37: tests/test_round37_thresholds.py),
and its note says what the column is; a version trained before shows "—" and says why."""
from playwright.sync_api import expect

from labeling.modeling.models import ModelVersion
from labeling.projects.models import Membership

CLASSES = ["definition", "DESC", "entity"]
ROW = {"label": "definition", "target": {"precision": 0.9}, "threshold": 0.8, "precision_lower": 0.91,
       "feasible": True, "reason": None, "review_share": 0.4, "held_out_precision": 0.179,
       "held_out_precision_ci": [0.1, 0.3], "held_out_recall": 0.2, "held_out_recall_ci": [0.1, 0.35],
       "held_out_kept": 12.6, "met": False, "met_reason": "held-out precision 0.179 < 0.9"}
POOL_MIX = {"setting": "pool", "used": "pool", "unlabeled_rows": 844, "reason": None}
COLUMN = "held-out precision at the labeled items' mix"


def _open(page, live_server, login, make_user, project_factory, row):
    project = project_factory("thr37", labels=CLASSES)
    lead = make_user("lea37")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE, train_size=150,
                                label_map=CLASSES, metrics={"thresholds": [row], "threshold_mix": POOL_MIX})
    login(page, "lea37")
    page.goto(live_server.url + "/p/thr37/dashboard/")
    page.wait_for_selector("#dashboard[data-ready]")
    headers = page.locator("#thresholds thead th").all_inner_texts()
    cells = page.locator("#thresholds tbody tr", has_text="definition").locator("td").all_inner_texts()
    return headers, dict(zip(headers, cells, strict=True))


def test_the_labeled_mix_precision_stands_beside_the_pool_mix_one(
        live_server, page, login, make_user, project_factory, js_errors):
    headers, cells = _open(page, live_server, login, make_user, project_factory,
                           {**ROW, "held_out_precision_labeled_mix": 0.412})
    pool = headers.index("held-out precision at the pool's estimated label mix")
    assert headers[pool + 1:pool + 3] == ["precision 95 % interval", COLUMN], headers
    assert (cells[headers[pool]], cells[COLUMN]) == ("0.179", "0.412"), cells
    note = page.locator("#thr-mix-note")
    expect(note).to_contain_text(f"\"{COLUMN[0].upper()}{COLUMN[1:]}\" is of the same kept predictions at the "
                                 "per-class table's mix: it differs from the precision beside it by the mix alone")
    expect(note).not_to_contain_text("trained before")
    assert js_errors == []


def test_a_version_trained_before_the_figure_shows_a_dash_and_says_why(
        live_server, page, login, make_user, project_factory, js_errors):
    headers, cells = _open(page, live_server, login, make_user, project_factory, ROW)
    assert cells[COLUMN] == "—", cells
    expect(page.locator("#thr-mix-note")).to_contain_text("(— : this version was trained before that figure was "
                                                          "stored)")
    assert js_errors == []
