"""The item browser on a 4,000-item project: every filter alone and combined, the sorts, the
count and page-size edges, against the truth worked out here in Python from the rows seeded
(never through the browser's own SQL).

Sized for CI (about 15 s; 20,000 items took 2 minutes and found nothing more): N items, with the
count's cap lowered to COUNT_CAP (the paginator's count_cap) so that broad filters still cross it and
count_capped is checked, the filters matching at most WALK_LIMIT items walked page by page (the
broader ones checked by their count) and RANDOM_COMBINATIONS random 2-3-filter combinations. The
seeding's proportions (sources, waves, answers, ties in confidence) do not depend on N."""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation, ReviewTask
from labeling.items.models import Item
from labeling.items.paging import ItemCursorPagination
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.projects.models import Label, Membership, Source
from labeling.waves.models import Wave, WaveItem
from learner.text import text_hash

pytestmark = [pytest.mark.django_db]

N = 4_000
COUNT_CAP = 1_500  # the paginator's cap, lowered so that broad filters (state, source) cross it
WALK_LIMIT = 700  # filters matching more are checked by their count
RANDOM_COMBINATIONS = 10
WORDS = ["refund", "invoice", "password", "login", "parcel", "delay", "card", "stolen", "charge", "account",
         "printer", "wiki", "lunch", "elevator", "permit", "router", "laptop", "meeting", "budget", "travel"]
LABELS = ["billing", "login", "fraud", "shipping", "other"]
SOURCES = ["email", "chat", "social"]
STRATS = ["rules", "rare", "diversity", "random", "uncertainty"]


def seed(project, users):
    rnd = random.Random(39)
    labels = {label.name: label for label in Label.objects.filter(project=project)}
    for name in LABELS:
        if name not in labels:
            labels[name] = Label.objects.create(project=project, name=name, hotkey=str(len(labels) + 1))
    sources = {s.name: s for s in Source.objects.filter(project=project)}
    for name in SOURCES:
        if name not in sources:
            sources[name] = Source.objects.create(project=project, name=name, quota=0.0)
    texts = []
    rows = []
    for i in range(N):
        words = rnd.sample(WORDS, 4)
        text = " ".join(words) + f" ticket {i}"
        texts.append(text)
        rows.append(Item(project=project, source=sources[rnd.choice(SOURCES)] if i % 17 else None, text=text,
                         text_hash=text_hash(text), dup_group=(i // 3) if i % 5 == 0 else None,
                         excluded=(i % 41 == 0), pinned_for_next_wave=(i % 53 == 0 and i % 41 != 0)))
    items = Item.objects.bulk_create(rows, batch_size=2000)
    items.sort(key=lambda it: it.id)
    t0 = timezone.now() - timedelta(days=3)
    waves = {}
    for number, state in [(1, Wave.CLOSED), (2, Wave.CLOSED), (3, Wave.CLOSED), (4, Wave.OPEN), (5, Wave.PLANNED)]:
        waves[number] = Wave.objects.create(project=project, number=number, state=state, size=100)
    picks, answers, tasks, scores = [], [], [], []
    truth = {}
    version = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE, label_map=LABELS)
    names = list(users)
    for idx, item in enumerate(items):
        t = {"id": item.id, "source": item.source.name if item.source else None, "excluded": item.excluded,
             "pinned": item.pinned_for_next_wave, "dup_group": item.dup_group, "text": texts[idx],
             "waves": set(), "strategies": set(), "wave_strats": set(), "answers": [], "open_review": False,
             "in_unfinished": False, "pred": None, "conf": None}
        r = rnd.random()
        wave = None
        if r < 0.35:
            wave = rnd.choice([1, 2, 3, 4, 5])
        if wave is not None:
            strat = rnd.choice(STRATS)
            picks.append(WaveItem(wave=waves[wave], item=item, strategy=strat, inclusion_prob=0.1))
            t["waves"].add(wave)
            t["strategies"].add(strat)
            t["wave_strats"].add((wave, strat))
            if wave in (4, 5):
                t["in_unfinished"] = True
            if rnd.random() < 0.1 and wave != 1:  # picked twice (an earlier closed wave too)
                picks.append(WaveItem(wave=waves[1], item=item, strategy="random", inclusion_prob=0.2))
                t["waves"].add(1)
                t["strategies"].add("random")
                t["wave_strats"].add((1, "random"))
        # answers: closed waves mostly answered; some imports on unpicked items
        when = t0 + timedelta(seconds=idx)
        if wave in (1, 2, 3) or (wave == 4 and rnd.random() < 0.5):
            kind = rnd.random()
            a1 = rnd.choice(names)
            l1 = rnd.choice(LABELS)
            if kind < 0.08:
                answers.append(("skip", item, None, a1, when, False))
            elif kind < 0.14:
                answers.append(("ann", item, l1, a1, when, True))  # undone only
            else:
                answers.append(("ann", item, l1, a1, when, False))
                if kind > 0.7:
                    a2 = rnd.choice([n for n in names if n != a1])
                    l2 = l1 if kind < 0.85 else rnd.choice([x for x in LABELS if x != l1])
                    answers.append(("ann", item, l2, a2, when + timedelta(seconds=1), False))
                    if l2 != l1:
                        decided = kind > 0.95
                        if decided:
                            answers.append(("adj", item, rnd.choice([l1, l2]), "lena", when + timedelta(seconds=2),
                                            False))
                        dismissed = 0.92 < kind <= 0.95
                        tasks.append(ReviewTask(project=project, item=item, reason=ReviewTask.DISAGREEMENT,
                                                resolved_at=timezone.now() if (decided or dismissed) else None))
                        if not (decided or dismissed):
                            t["open_review"] = True
        elif wave is None and rnd.random() < 0.05:
            answers.append(("imp", item, rnd.choice(LABELS), None, when, False))
        if rnd.random() < 0.02:
            tasks.append(ReviewTask(project=project, item=item, reason=ReviewTask.LOW_CONFIDENCE))
            t["open_review"] = True
        if rnd.random() < 0.9:
            top = rnd.randrange(len(LABELS))
            prob = round(rnd.choice([0.3, 0.5, 0.5, 0.5, 0.75, 0.9, 0.95, rnd.random()]), 4)
            probs = np.full(len(LABELS), (1 - prob) / (len(LABELS) - 1), dtype="<f2")
            probs[top] = prob
            scores.append(ItemScore(item=item, model_version=version, probs=probs.tobytes(), top_label=top,
                                    top_prob=prob, margin=0.1, entropy=0.5, fallback=False))
            t["pred"], t["conf"] = LABELS[top], prob
        truth[item.id] = t
    WaveItem.objects.bulk_create(picks, batch_size=5000)
    ann_rows = []
    for kind, item, label, who, when, undone in answers:
        origin = {"ann": Annotation.ANNOTATOR, "skip": Annotation.ANNOTATOR, "adj": Annotation.ADJUDICATION,
                  "imp": Annotation.IMPORT}[kind]
        ann_rows.append(Annotation(project=project, item=item, label=labels[label] if label else None,
                                   annotator=users[who] if who else None, origin=origin, skipped=kind == "skip",
                                   skip_reason="unclear" if kind == "skip" else "", undone=undone))
        truth[item.id]["answers"].append({"kind": kind, "label": label, "who": who, "at": when, "undone": undone})
    created = Annotation.objects.bulk_create(ann_rows, batch_size=5000)
    for row, (_, _, _, _, when, _) in zip(created, answers, strict=True):
        row.created_at = when
    Annotation.objects.bulk_update(created, ["created_at"], batch_size=5000)
    for row, (_, item, *_rest) in zip(created, answers, strict=True):
        for a in truth[item.id]["answers"]:
            if "pk" not in a:
                a["pk"] = row.pk
                break
    ReviewTask.objects.bulk_create(tasks, batch_size=5000)
    ItemScore.objects.bulk_create(scores, batch_size=5000)
    for t in truth.values():
        finish_truth(t)
    return truth


def finish_truth(t):
    live = [a for a in t["answers"] if not a["undone"]]
    usable = [a for a in live if a["kind"] != "skip" and a["label"] is not None]
    t["labeled"] = bool(usable)
    t["skipped"] = bool(live) and not usable
    t["unlabeled"] = not live and not t["in_unfinished"]
    t["in_wave"] = t["in_unfinished"] and not live
    adj = [a for a in usable if a["kind"] == "adj"]
    ann = [a for a in usable if a["kind"] == "ann"]
    t["disputed"] = len({a["label"] for a in ann}) > 1 and not adj
    if adj:
        t["resolved"] = max(adj, key=lambda a: (a["at"], a["pk"]))["label"]
    elif usable:
        counts = Counter(a["label"] for a in usable)
        last = {lab: max((a["at"], a["pk"]) for a in usable if a["label"] == lab) for lab in counts}
        t["resolved"] = max(counts, key=lambda lab: (counts[lab], last[lab]))
    else:
        t["resolved"] = None
    t["live_by"] = defaultdict(set)
    for a in live:
        if a["who"]:
            t["live_by"][a["who"]].add(None if a["kind"] == "skip" else a["label"])
    t["live_labels"] = {a["label"] for a in usable}


@pytest.fixture
def big(world, make_user, postgres_only):
    project = world["alpha"]
    users = {"ann": world["annotator"], "lena": world["lead"]}
    for name in ("bob", "cyd"):
        users[name] = make_user(name)
        Membership.objects.create(user=users[name], project=project, role=Membership.ANNOTATOR)
    return project, seed(project, users)


def walk(client, params, page_size=200):
    """Every id the API lists for params, following next; fails on a repeated id."""
    url, seen, order = "/api/projects/alpha/items/", set(), []
    query = {**params, "page_size": page_size}
    while url:
        response = client.get(url, query)
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        for row in body["results"]:
            assert row["id"] not in seen, f"item {row['id']} listed twice for {params}"
            seen.add(row["id"])
            order.append(row)
        url, query = body["next"], None
    return order


def expected(truth, **cond):
    def ok(t):
        for key, value in cond.items():
            if key == "state" and not t[value]:
                return False
            if key == "open_review" and not t["open_review"]:
                return False
            if key == "label" and t["resolved"] != value:
                return False
            if key == "source" and t["source"] != value:
                return False
            if key == "wave" and value not in t["waves"]:
                return False
            if key == "strategy" and value not in t["strategies"]:
                return False
            if key == "annotator" and value not in t["live_by"]:
                return False
            if key == "answer_label" and value not in t["live_labels"]:
                return False
            if key == "pair" and value[1] not in t["live_by"].get(value[0], set()):
                return False
            if key == "predicted" and t["pred"] != value:
                return False
            if key == "min_confidence" and (t["conf"] is None or t["conf"] < value):
                return False
            if key == "max_confidence" and (t["conf"] is None or t["conf"] > value):
                return False
            if key == "excluded" and t["excluded"] != value:
                return False
            if key == "pinned" and t["pinned"] != value:
                return False
            if key == "dup_group" and t["dup_group"] != value:
                return False
            if key == "words" and not all(w in t["text"].split() for w in value):
                return False
            if key == "notword" and value in t["text"].split():
                return False
        return True
    return {i for i, t in truth.items() if ok(t)}


CASES = [
    ({"state": "unlabeled"}, {"state": "unlabeled"}),
    ({"state": "in_wave"}, {"state": "in_wave"}),
    ({"state": "labeled"}, {"state": "labeled"}),
    ({"state": "skipped"}, {"state": "skipped"}),
    ({"state": "disputed"}, {"state": "disputed"}),
    ({"state": "in_review"}, {"open_review": True}),
    ({"label": "fraud"}, {"label": "fraud"}),
    ({"label": "fraud", "state": "disputed"}, {"label": "fraud", "state": "disputed"}),
    ({"source": "social"}, {"source": "social"}),
    ({"wave": 2}, {"wave": 2}),
    ({"wave": 1, "state": "labeled"}, {"wave": 1, "state": "labeled"}),
    ({"strategy": "rare", "wave": 4}, None),
    ({"annotator": "bob"}, {"annotator": "bob"}),
    ({"answer_label": "login"}, {"answer_label": "login"}),
    ({"annotator": "cyd", "answer_label": "other"}, {"pair": ("cyd", "other")}),
    ({"predicted": "billing"}, {"predicted": "billing"}),
    ({"predicted": "billing", "min_confidence": 0.5, "max_confidence": 0.5},
     {"predicted": "billing", "min_confidence": 0.5, "max_confidence": 0.5}),
    ({"min_confidence": 0.9}, {"min_confidence": 0.9}),
    ({"max_confidence": 0.3}, {"max_confidence": 0.3}),
    ({"excluded": "true"}, {"excluded": True}),
    ({"excluded": "false", "state": "unlabeled", "source": "chat"},
     {"excluded": False, "state": "unlabeled", "source": "chat"}),
    ({"pinned": "true"}, {"pinned": True}),
    ({"dup_group": 300}, {"dup_group": 300}),
    ({"q": "refund"}, {"words": ["refund"]}),
    ({"q": "refund stolen"}, {"words": ["refund", "stolen"]}),
    ({"q": "refund -stolen", "state": "labeled"}, {"words": ["refund"], "notword": "stolen", "state": "labeled"}),
    ({"q": "parcel", "predicted": "fraud", "min_confidence": 0.75, "source": "email"},
     {"words": ["parcel"], "predicted": "fraud", "min_confidence": 0.75, "source": "email"}),
]


def check_every_filter(world, big):
    project, truth = big
    client = APIClient()
    client.force_authenticate(world["lead"])
    wrong = []
    for params, cond in CASES:
        want = expected(truth, **cond) if cond is not None else {
            i for i, t in truth.items() if (4, "rare") in t["wave_strats"]}
        if len(want) <= WALK_LIMIT:  # broader ones are checked by their count
            got = [row["id"] for row in walk(client, params)]
            if set(got) != want:
                wrong.append((params, len(got), len(want), sorted(set(got) ^ want)[:5]))
        count = client.get("/api/projects/alpha/items/", {**params, "count": "true"}).json()
        if (count["count"], count["count_capped"]) != (min(len(want), COUNT_CAP), len(want) > COUNT_CAP):
            wrong.append((params, "count", count["count"], len(want)))
    assert not wrong, wrong


def check_sort(world, big, sort):
    project, truth = big
    client = APIClient()
    client.force_authenticate(world["lead"])
    rows = walk(client, {"sort": sort, "source": "social", "excluded": "false"}, page_size=97)
    ids = [r["id"] for r in rows]
    social = {i for i, t in truth.items() if t["source"] == "social" and not t["excluded"]}
    if sort.startswith("confidence"):
        scored = {i for i in social if truth[i]["conf"] is not None}
        assert set(ids) == scored
        sign = -1 if sort == "confidence_desc" else 1
        keys = [(sign * truth[i]["conf"], sign * i) for i in ids]
    else:
        assert set(ids) == social
        keys = [(-i if sort == "newest" else i,) for i in ids]
    assert keys == sorted(keys)
    # walking back from the last page gives the same pages
    back, url = [], None
    last = client.get("/api/projects/alpha/items/", {"sort": sort, "source": "social", "excluded": "false",
                                                     "page_size": 97}).json()
    for _ in range(3):
        url = last["next"]
        last = client.get(url).json()
    url = last["previous"]
    while url:
        body = client.get(url).json()
        back = [r["id"] for r in body["results"]] + back
        url = body["previous"]
    assert back == ids[: len(back)]


def check_page_size_edges(world, big):
    client = APIClient()
    client.force_authenticate(world["lead"])
    for size, n in [("1", 1), ("200", 200), ("201", 200), ("100000", 200)]:
        body = client.get("/api/projects/alpha/items/", {"page_size": size}).json()
        assert len(body["results"]) == n, size
    for bad in ["0", "-1", "1.5", "abc", " 5"]:
        assert client.get("/api/projects/alpha/items/", {"page_size": bad}).status_code == 400, bad


def check_random_combinations(world, big):
    project, truth = big
    client = APIClient()
    client.force_authenticate(world["lead"])
    rnd = random.Random(7)
    choices = {
        "state": [("state", s, {"state": s if s != "in_review" else None, "open_review": s == "in_review" or None})
                  for s in ("unlabeled", "in_wave", "labeled", "skipped", "disputed", "in_review")],
        "label": [("label", x, {"label": x}) for x in LABELS],
        "source": [("source", x, {"source": x}) for x in SOURCES],
        "wave": [("wave", x, {"wave": x}) for x in (1, 2, 3, 4, 5)],
        "annotator": [("annotator", x, {"annotator": x}) for x in ("ann", "bob", "cyd", "lena")],
        "predicted": [("predicted", x, {"predicted": x}) for x in LABELS],
        "min_confidence": [("min_confidence", x, {"min_confidence": x}) for x in (0.3, 0.5, 0.75, 0.9)],
        "max_confidence": [("max_confidence", x, {"max_confidence": x}) for x in (0.5, 0.75, 0.95)],
        "excluded": [("excluded", "true", {"excluded": True}), ("excluded", "false", {"excluded": False})],
        "q": [("q", w, {"words": [w]}) for w in WORDS[:8]] + [("q", "card -refund", {"words": ["card"],
                                                                                     "notword": "refund"})],
    }
    wrong = []
    for _ in range(RANDOM_COMBINATIONS):
        params, cond = {}, {}
        for key in rnd.sample(sorted(choices), rnd.choice([2, 3])):
            name, value, c = rnd.choice(choices[key])
            params[name] = value
            cond.update({k: v for k, v in c.items() if v is not None})
        if cond.get("min_confidence", 0) > cond.get("max_confidence", 1):
            continue
        sort = rnd.choice(["newest", "oldest", "confidence_desc", "confidence_asc"])
        want = expected(truth, **cond)
        if sort.startswith("confidence"):
            want = {i for i in want if truth[i]["conf"] is not None}
        if len(want) > WALK_LIMIT:
            body = client.get("/api/projects/alpha/items/", {**params, "sort": sort, "count": "true"}).json()
            if body["count"] != min(len(want), COUNT_CAP):
                wrong.append((params, sort, "count", body["count"], len(want)))
            continue
        rows = walk(client, {**params, "sort": sort}, page_size=rnd.choice([7, 50, 200]))
        got = [r["id"] for r in rows]
        if set(got) != want:
            wrong.append((params, sort, len(got), len(want)))
    assert not wrong, wrong


def test_browser_on_many_items_matches_the_truth(postgres_only, world, big, monkeypatch):
    """One seeding for every check: filters and counts, sorts with ties walked both ways,
    page-size edges, random combinations."""
    monkeypatch.setattr(ItemCursorPagination, "count_cap", COUNT_CAP)
    check_every_filter(world, big)
    for sort in ("newest", "oldest", "confidence_desc", "confidence_asc"):
        check_sort(world, big, sort)
    check_page_size_edges(world, big)
    check_random_combinations(world, big)
