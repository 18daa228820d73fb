"""Pool estimates when drawn picks go unanswered: the sample says how many known-π picks were
drawn and what became of them (answered, disputed, skipped, unanswered when the wave closed,
still open), each figure has a range that holds whatever those picks' labels turn out to be, and
an item drawn in two waves is one item in the counts and does not narrow an interval as a new
item would."""
import uuid

import numpy as np
import pytest

from labeling.annotations.disagreement import sync_disagreement
from labeling.annotations.models import Annotation, ReviewTask
from labeling.annotations.review_services import resolve_review
from labeling.items.models import Item
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.projects import dashboard
from labeling.projects.estimates import version_estimates
from labeling.projects.models import Membership
from labeling.waves.models import Wave, WaveItem
from learner.scoring import pack_probs
from learner.text import text_hash

pytestmark = pytest.mark.django_db
CLASSES = ["billing", "fraud", "login"]


class World:
    """A project with model v1 active and helpers to draw, score and answer its picks."""

    def __init__(self, project_factory, make_user, slug):
        self.project = project_factory(slug, labels=CLASSES)
        self.ann, self.bob, self.lead = (make_user(f"{slug}-{n}") for n in ("ann", "bob", "lead"))
        for user, role in ((self.ann, Membership.ANNOTATOR), (self.bob, Membership.ANNOTATOR),
                           (self.lead, Membership.LEAD)):
            Membership.objects.create(user=user, project=self.project, role=role)
        self.labels = {label.name: label for label in self.project.labels.all()}
        self.v1 = ModelVersion.objects.create(project=self.project, number=1, state=ModelVersion.ACTIVE,
                                              train_size=30, label_map=CLASSES, metrics={})
        self.n = 0

    def wave(self, number, state):
        return Wave.objects.create(project=self.project, number=number, model_version=self.v1, state=state)

    def item(self, predicted):
        self.n += 1
        text = f"text {self.n}"
        item = Item.objects.create(project=self.project, source=self.project.sources.first(), text=text,
                                   text_hash=text_hash(text))
        proba = np.full(3, 0.1)
        proba[CLASSES.index(predicted)] = 0.8
        ItemScore.objects.create(item=item, model_version=self.v1, probs=pack_probs(proba),
                                 top_label=CLASSES.index(predicted), top_prob=0.8, margin=0.7, entropy=0.5)
        return item

    def draw(self, wave, item, pi=0.1):
        WaveItem.objects.create(wave=wave, item=item, strategy="random", inclusion_prob=pi)
        return item

    def answer(self, item, label, user=None, *, skipped=False):
        Annotation.objects.create(project=self.project, item=item, annotator=user or self.ann,
                                  label=None if skipped else self.labels[label], skipped=skipped,
                                  client_id=uuid.uuid4())


@pytest.fixture
def drawn(project_factory, make_user):
    """Wave 2 (closed, π 0.1): 30 billing answered (v1: 27 billing, 3 login), 10 login answered
    (v1 right), 4 skipped picks v1 calls billing, 2 picks v1 calls login left unanswered, 1 pick
    v1 calls billing on which ann said billing and bob login (disputed). Wave 3 (open): 3 picks
    v1 calls billing, not answered yet."""
    w = World(project_factory, make_user, "nonresp")
    w2, w3 = w.wave(2, Wave.CLOSED), w.wave(3, Wave.OPEN)
    for predicted in ["billing"] * 27 + ["login"] * 3:
        w.answer(w.draw(w2, w.item(predicted)), "billing")
    for _ in range(10):
        w.answer(w.draw(w2, w.item("login")), "login")
    w.skipped = [w.draw(w2, w.item("billing")) for _ in range(4)]
    for item in w.skipped:
        w.answer(item, None, skipped=True)
    w.unanswered = [w.draw(w2, w.item("login")) for _ in range(2)]
    w.disputed = w.draw(w2, w.item("billing"))
    w.answer(w.disputed, "billing", w.ann)
    w.answer(w.disputed, "login", w.bob)
    w.task = sync_disagreement(w.project, w.disputed.pk, added=True)
    w.open = [w.draw(w3, w.item("billing")) for _ in range(3)]
    return w


def _billing(project):
    est = version_estimates(project)[1]
    return est, {r["label"]: r for r in est["labels"]}["billing"]


def test_the_sample_says_how_many_drawn_picks_went_unanswered(drawn):
    assert drawn.task is not None  # the two answers really disagree
    est, billing = _billing(drawn.project)
    sample = est["sample"]
    assert (sample["drawn"], sample["answered"], sample["disputed"], sample["skipped"], sample["unanswered"],
            sample["open"]) == (50, 40, 1, 4, 2, 3)
    # the disputed pick is in the estimate under the majority rule (a tie goes to the newest answer)
    assert sample["picks"] == sample["items"] == 41 and sample["waves"] == [2]
    assert billing["n"] == 30 and billing["n_predicted"] == 28
    assert sample["summary"] == (
        "estimated from 41 of 50 drawn picks (41 distinct items); 1 disputed (counted with the majority "
        "answer, a tie with the newest answer), 4 skipped, 2 unanswered when the wave closed, 3 still open; unanswered picks are treated as "
        "missing at random")
    shown = dashboard.dashboard_data(drawn.project)["estimates"]["sample"]
    assert shown["summary"] == sample["summary"] and shown["skipped"] == 4


def test_the_worst_case_range_is_what_all_wrong_answers_would_give(drawn):
    """Answer every unsettled pick against the model on billing: the estimate then lands on the
    lower ends of the ranges reported before."""
    _, before = _billing(drawn.project)
    lo_p, hi_p = before["precision_range"]
    lo_r, hi_r = before["recall_range"]
    assert lo_p < before["precision"] <= hi_p and lo_r < before["recall"] <= hi_r
    for item in [*drawn.skipped, *drawn.open]:  # called billing, are login
        drawn.answer(item, "login", drawn.bob)
    for item in drawn.unanswered:  # called login, are billing
        drawn.answer(item, "billing")
    resolve_review(drawn.project, drawn.lead, task_id=drawn.task.pk, label_id=drawn.labels["login"].pk)
    est, after = _billing(drawn.project)
    assert est["sample"]["answered"] == est["sample"]["drawn"] == 50
    assert after["precision"] == pytest.approx(lo_p) and after["recall"] == pytest.approx(lo_r)
    assert after["precision_range"] is None and after["recall_range"] is None  # nothing left unsettled
    assert "missing at random" not in est["sample"]["summary"]


def test_the_best_case_range_is_what_all_right_answers_would_give(drawn):
    _, before = _billing(drawn.project)
    for item in [*drawn.skipped, *drawn.open]:
        drawn.answer(item, "billing", drawn.bob)
    for item in drawn.unanswered:
        drawn.answer(item, "login")
    resolve_review(drawn.project, drawn.lead, task_id=drawn.task.pk, label_id=drawn.labels["billing"].pk)
    assert not ReviewTask.objects.filter(item=drawn.disputed, resolved_at__isnull=True).exists()
    _, after = _billing(drawn.project)
    assert after["precision"] == pytest.approx(before["precision_range"][1])
    assert after["recall"] == pytest.approx(before["recall_range"][1])
    assert after["prevalence"] <= before["prevalence_range"][1]


def _repeats(project_factory, make_user, slug, *, repeat):
    """Wave 2 (closed, π 0.1): 8 billing (v1: 6 billing, 2 login), 4 fraud (v1 right), 5 login
    (v1 right), and with ``repeat`` one more billing and one more fraud pick left unanswered.
    Wave 3 (closed, π 0.2): those two items drawn again and answered. Without ``repeat`` the
    same picks are four distinct items (two answered in wave 2, two new ones in wave 3), with the
    same labels, predictions, π and waves."""
    w = World(project_factory, make_user, slug)
    w2, w3 = w.wave(2, Wave.CLOSED), w.wave(3, Wave.CLOSED)
    for label, predicted in [("billing", "billing")] * 6 + [("billing", "login")] * 2 + [("fraud", "fraud")] * 4 \
            + [("login", "login")] * 5:
        w.answer(w.draw(w2, w.item(predicted)), label)
    for label in ("billing", "fraud"):
        item = w.item(label)
        if repeat:
            w.draw(w2, item)  # unanswered in wave 2
        else:
            w.answer(w.draw(w2, w.item(label)), label)
        w.answer(w.draw(w3, item, pi=0.2), label)
    rows = {r["label"]: r for r in version_estimates(w.project)[1]["labels"]}
    return version_estimates(w.project)[1]["sample"], rows


def test_an_item_drawn_again_is_one_item_in_the_counts(project_factory, make_user):
    sample, rows = _repeats(project_factory, make_user, "repeat", repeat=True)
    assert sample["items"] == 19 and sample["picks"] == sample["drawn"] == sample["answered"] == 21
    assert sample["summary"].startswith("estimated from 21 of 21 drawn picks (19 distinct items)")
    assert rows["billing"]["n"] == 9 and rows["fraud"]["n"] == 5
    # both waves' draws of the fraud item count in the estimate (its label is known), as one item
    assert rows["fraud"]["recall"] == pytest.approx(1.0)


def test_four_items_drawn_five_times_are_too_few(project_factory, make_user):
    w = World(project_factory, make_user, "thin")
    w2, w3 = w.wave(2, Wave.CLOSED), w.wave(3, Wave.CLOSED)
    for _ in range(10):
        w.answer(w.draw(w2, w.item("login")), "login")
    fraud = [w.item("fraud") for _ in range(4)]
    for item in fraud[:3]:
        w.answer(w.draw(w2, item), "fraud")
    w.draw(w2, fraud[3])
    w.answer(w.draw(w3, fraud[3], pi=0.2), "fraud")
    row = {r["label"]: r for r in version_estimates(w.project)[1]["labels"]}["fraud"]
    assert row["n"] == 4 and row["recall"] is None and "only 4" in row["reasons"]["recall"]


def test_a_repeat_draw_narrows_no_interval_as_a_new_item_would(project_factory, make_user):
    _, repeated = _repeats(project_factory, make_user, "again", repeat=True)
    _, fresh = _repeats(project_factory, make_user, "fresh", repeat=False)
    # same rows in the same strata: only the item identity differs
    assert repeated["billing"]["recall"] == pytest.approx(fresh["billing"]["recall"])
    width = {name: r["billing"]["recall_ci"][1] - r["billing"]["recall_ci"][0]
             for name, r in (("repeated", repeated), ("fresh", fresh))}
    assert width["repeated"] > width["fresh"] + 0.005
    assert (repeated["billing"]["n"], fresh["billing"]["n"]) == (9, 10)
