"""The pool is what waves can draw: an unanswered item whose duplicate group holds an answered item
(its exact or near duplicate was labeled or skipped) is counted apart on the overview, and the review
routing leaves it out; a lowered review share maximum closes the label issues over it at once. On
the real importer (its duplicate groups), the overview page and the routing pass."""
import json

import numpy as np
import pytest

from labeling.annotations.models import Annotation, ReviewTask
from labeling.items.importer import run_import
from labeling.items.models import Item
from labeling.modeling.label_issue_share import trim_label_issues
from labeling.modeling.review import route_review
from labeling.projects.models import Membership
from labeling.projects.selectors import item_counts

from .review_helpers import add_version

pytestmark = pytest.mark.django_db

WORDS = ["apple", "river", "stone", "cloud", "maple", "tiger", "piano", "lemon", "ocean", "candle", "forest",
         "violet", "harbor", "copper", "meadow", "silver", "garden", "rocket", "pepper", "island"]


def distinct_texts(n: int, seed: int = 3) -> list[str]:
    """Texts no two of which the importer groups as near duplicates."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=8)) + f" ticket {i}" for i in range(n)]


def import_rows(project, tmp_path, name: str, rows: list[dict]) -> None:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert run_import(project, path).ok


def test_routing_leaves_out_exact_copies_of_imported_labels_and_routes_the_rest(project_factory, tmp_path):
    project = project_factory("wroute", labels=("billing", "login"), sources=("email",))
    project.review_share_min, project.review_share_max = 0.05, 1.0
    project.band_low, project.band_high = 0.3, 0.7
    project.save()
    texts = distinct_texts(6)
    import_rows(project, tmp_path, "corpus", [{"external_id": f"C{i}", "text": t, "source": "email"}
                                              for i, t in enumerate(texts)])
    import_rows(project, tmp_path, "labels", [{"external_id": f"L{i}", "text": t, "source": "email",
                                               "label": "billing"} for i, t in enumerate(texts[:3])])
    items = list(Item.objects.filter(project=project))
    assert len({item.dup_group for item in items}) == 6  # three exact pairs, three singles
    route_review(add_version(project, 1, {item.pk: (1, 0.5) for item in items}))  # every prediction doubtful
    routed = set(ReviewTask.objects.filter(project=project, reason=ReviewTask.LOW_CONFIDENCE,
                                           resolved_at__isnull=True).values_list("item__external_id", flat=True))
    assert routed == {"C3", "C4", "C5"}

    # C3's copy is answered later (a skip is an answer too): the next pass closes C3's task and says why
    c3 = Item.objects.get(project=project, external_id="C3")
    twin = Item.objects.create(project=project, source=c3.source, text=c3.text, text_hash=c3.text_hash,
                               dup_group=c3.dup_group)
    Annotation.objects.create(project=project, item=twin, skipped=True)
    route_review(add_version(project, 2, {item.pk: (1, 0.5) for item in items}))
    closed = ReviewTask.objects.get(project=project, item=c3, reason=ReviewTask.LOW_CONFIDENCE)
    assert closed.resolved_at is not None
    assert "duplicate of it is answered" in closed.detail["closed"]


def test_the_overview_counts_copies_of_answered_items_apart_from_the_pool(project_factory, make_user, client,
                                                                          tmp_path):
    project = project_factory("wcount", labels=("billing", "login"), sources=("email",))
    lead = make_user("wlead")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    texts = distinct_texts(5, seed=4)
    import_rows(project, tmp_path, "corpus", [{"external_id": f"C{i}", "text": t, "source": "email"}
                                              for i, t in enumerate(texts)])
    import_rows(project, tmp_path, "labels", [{"external_id": f"L{i}", "text": t, "source": "email",
                                               "label": "login"} for i, t in enumerate(texts[:2])])
    # a copy of C4, skipped by an annotator: its twin C4 waits for no wave either
    c4 = Item.objects.get(project=project, external_id="C4")
    twin = Item.objects.create(project=project, source=c4.source, text=c4.text, text_hash=c4.text_hash,
                               dup_group=c4.dup_group)
    Annotation.objects.create(project=project, item=twin, skipped=True)
    # an item made outside the importer (no duplicate group): its exact copies are its group
    loose = [Item.objects.create(project=project, text="an item with no group", text_hash="h-loose")
             for _ in range(2)]
    Annotation.objects.create(project=project, item=loose[0], label=project.labels.get(name="billing"))

    counts = item_counts(project)
    # C0, C1 (copies of L0, L1), C4 (copy of a skipped item), loose[1]: 4 copies; C2, C3 in the pool
    assert (counts["copies"], counts["pool"]) == (4, 2), counts
    assert counts["total"] == counts["labeled"] + counts["pool"] + counts["copies"] + counts["skipped"] + \
        counts["excluded"] - counts["excluded_labeled"]

    client.force_login(lead)
    html = client.get(f"/p/{project.slug}/").content.decode()
    line = html[html.index('id="overview-items"'):][:1600]
    assert ">2 unlabeled in the pool</span>" in line
    assert ">4 waiting only as duplicates of answered items</span>" in line


def test_a_lowered_maximum_closes_the_least_suspicious_label_issues_first(project_factory):
    project = project_factory("wtrim", labels=("billing", "login"), sources=("email",))
    items = [Item.objects.create(project=project, text=f"text {i}", text_hash=f"h{i}", dup_group=None)
             for i in range(4)]
    billing = project.labels.get(name="billing")
    Annotation.objects.bulk_create([Annotation(project=project, item=item, label=billing) for item in items])
    tasks = {score: ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LABEL_ISSUE,
                                              model_version=1, detail={"score": score, "given_label": "billing"})
             for item, score in zip(items, (0.1, 0.3, 0.2), strict=False)}
    project.review_share_max = 0.5  # 2 of 4 labeled items
    project.save()
    trim = trim_label_issues(project.pk)
    assert (trim.cap, trim.closed, trim.open) == (2, 1, 2)
    for task in tasks.values():
        task.refresh_from_db()
    assert tasks[0.3].resolved_at is not None and tasks[0.3].outcome == ReviewTask.EXPIRED
    assert "over the review share" in tasks[0.3].detail["closed"]
    assert tasks[0.1].resolved_at is None and tasks[0.2].resolved_at is None
