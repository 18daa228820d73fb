"""The dashboard names what its figures are. The thresholds table's held-out precision and recall
are weighted to the pool's label mix estimated by EM; the per-class table's, for the same model,
are at the labeled items' mix and of every prediction: both said "held out" and differed by up to
0.4. The thresholds table's columns are now titled by their mix and a note under it says why they
differ. The throughput table titles its answers column "annotator answers" (a lead's adjudications
are not in it) and shows the answers changed from the History list where the rows carry them."""
import uuid

from playwright.sync_api import expect

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.modeling.models import ModelVersion
from labeling.projects.models import Membership
from learner.text import text_hash

CLASSES = ["definition", "DESC", "entity"]
ROW = {"label": "definition", "target": {"precision": 0.9}, "threshold": 0.8, "precision_lower": 0.91,
       "feasible": True, "reason": None, "review_share": 0.4, "held_out_precision": 0.179,
       "held_out_precision_ci": [0.1, 0.3], "held_out_recall": 0.2, "held_out_recall_ci": [0.1, 0.35],
       "held_out_kept": 12.6, "met": False, "met_reason": "held-out precision 0.179 < 0.9"}
PER_CLASS = {"definition": {"precision": 0.55, "recall": 0.6, "f1": 0.57, "support": 40},
             "DESC": {"precision": 0.7, "recall": 0.8, "f1": 0.75, "support": 60},
             "entity": {"precision": 0.6, "recall": 0.5, "f1": 0.55, "support": 50}}


def _dashboard(page, live_server, login, make_user, project_factory, mix):
    project = project_factory("dash36", labels=CLASSES)
    lead, ann = make_user("lea36"), make_user("ann36")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    Membership.objects.create(user=ann, project=project, role=Membership.ANNOTATOR)
    label = project.labels.get(name="DESC")
    for i in range(3):
        item = Item.objects.create(project=project, text=f"q {i}", text_hash=text_hash(f"q {i}"))
        Annotation.objects.create(project=project, item=item, annotator=ann, label=label, client_id=uuid.uuid4())
    metrics = {"per_class": PER_CLASS, "thresholds": [ROW]}
    if mix:
        metrics["threshold_mix"] = mix
    ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE, train_size=150,
                                label_map=CLASSES, metrics=metrics)
    login(page, "lea36")
    page.goto(live_server.url + "/p/dash36/dashboard/")
    page.wait_for_selector("#dashboard[data-ready]")


def test_thresholds_columns_say_the_pool_mix_and_the_note_explains_the_per_class_table(
        live_server, page, login, make_user, project_factory, js_errors):
    _dashboard(page, live_server, login, make_user, project_factory,
               {"setting": "pool", "used": "pool", "unlabeled_rows": 844, "reason": None})
    headers = page.locator("#thresholds thead th").all_inner_texts()
    assert "held-out precision at the pool's estimated label mix" in headers, headers
    assert "held-out recall at the pool's estimated label mix" in headers, headers
    assert "precision lower bound at the pool's estimated label mix" in headers, headers
    assert "held out precision" not in headers
    note = page.locator("#thr-mix-note")
    expect(note).to_contain_text("weighted to the pool's estimated label mix (estimated by EM from 844 unlabeled items)")
    expect(note).to_contain_text("The per-class table's are of every prediction (no threshold) at the labeled "
                                 "items' own mix")
    expect(note).to_contain_text("Recall does not depend on the mix")
    # the two figures the audit compared, each in its own table
    expect(page.locator("#per-class tbody tr", has_text="definition")).to_contain_text("0.550")
    expect(page.locator("#thresholds tbody tr", has_text="definition")).to_contain_text("0.179")
    assert js_errors == []


def test_a_version_at_the_labeled_mix_says_so(live_server, page, login, make_user, project_factory, js_errors):
    _dashboard(page, live_server, login, make_user, project_factory,
               {"setting": "labeled", "used": "labeled", "reason": None})
    headers = page.locator("#thresholds thead th").all_inner_texts()
    assert "held-out precision at the labeled items' mix" in headers, headers
    expect(page.locator("#thr-mix-note")).to_contain_text("at the labeled items' mix like the per-class table")
    assert js_errors == []


def test_a_version_without_a_mix_report_keeps_plain_titles_and_no_note(
        live_server, page, login, make_user, project_factory, js_errors):
    _dashboard(page, live_server, login, make_user, project_factory, None)
    headers = page.locator("#thresholds thead th").all_inner_texts()
    assert "held out precision" in headers and "precision 95 % interval" in headers, headers
    expect(page.locator("#thr-mix-note")).to_have_text("")
    assert js_errors == []


def test_throughput_titles_annotator_answers_and_shows_changed(
        live_server, page, login, make_user, project_factory, js_errors):
    _dashboard(page, live_server, login, make_user, project_factory, None)
    headers = page.locator("#throughput thead th").all_inner_texts()
    assert "annotator answers" in headers and "answers" not in headers, headers
    assert "changed" in headers, headers
    row = page.locator("#throughput tbody tr", has_text="ann36")
    cells = row.locator("td").all_inner_texts()
    # 3 answers, none changed: counts print as integers, not "0.000"
    assert cells[headers.index("annotator answers")] == "3" and cells[headers.index("changed")] == "0", cells
    assert js_errors == []
