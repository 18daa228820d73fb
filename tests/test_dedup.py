"""Duplicate grouping: the MinHash maths, and exact / near groups within and across real imports."""
import json
import random

import numpy as np
import pytest
from datasketch import MinHash

from labeling.items import dedup, grouping
from labeling.items.models import Item, ItemLsh
from labeling.items.selectors import exact_duplicate_map, exact_duplicates_of, group_members
from labeling.items.services import import_path
from learner.text import text_hash

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu amber basil cedar dune ember fjord "
         "grove heath iris jade kelp larch moss nettle oak pine quartz reed sage thorn umber vale willow yew "
         "zinnia acorn birch clover daisy elm fern ginger holly ivy juniper").split()

LONG = ("My order of the blue ceramic coffee mugs arrived today, but two of the six mugs were shattered "
        "and the box was soaked through. I would like replacements sent to the same address, or a refund "
        "for the broken ones if replacements are not possible.")


def write_jsonl(path, texts):
    with open(path, "w", encoding="utf-8") as fh:
        for text in texts:
            fh.write(json.dumps({"text": text}) + "\n")
    return path


def test_vectorised_signatures_equal_datasketch():
    texts = ["Hello world, this is a test!", "short", "", LONG]
    shingles = dedup.shingle_hashes(texts)
    ours = dedup.signatures(shingles)
    for sh, sig in zip(shingles, ours, strict=True):
        reference = MinHash(num_perm=dedup.NUM_PERM, seed=1, hashfunc=lambda v: v)
        reference.update_batch(sh.tolist())
        assert np.array_equal(reference.hashvalues.astype(np.uint32), sig)


def test_signature_agreement_estimates_jaccard():
    a, b = dedup.shingle_hashes([LONG, LONG.replace("shattered", "cracked") + " Thanks, Sam"])
    exact = dedup.jaccard(a, b)
    sig = dedup.signatures([a, b])
    estimate = float(np.mean(sig[0] == sig[1]))
    assert 0.6 < exact < 0.95 and abs(estimate - exact) < 0.15


def test_shingle_text_ignores_case_punctuation_urls_and_digits():
    assert dedup.shingle_text("Don't  PANIC!! see https://x.io/a?b=1 @bob 42") == \
        dedup.shingle_text("dont panic see http://other.example @alice 7")


def test_union_find_keeps_the_oldest_id():
    uf = grouping.UnionFind()
    uf.union(7, 3)
    uf.union(9, 7)
    uf.union(2, 9)
    assert {uf.find(x) for x in (2, 3, 7, 9)} == {2}


def test_in_memory_grouping_is_transitive():
    texts = [LONG, "Completely unrelated text about tax forms and the deadline in April for small firms.",
             LONG.upper(), LONG + "\n\nSent from my iPhone"]
    groups, _ = grouping.group_texts(texts, [text_hash(t) for t in texts])
    assert groups == [1, 2, 1, 1]


@pytest.fixture
def project(project_factory):
    return project_factory("dedup", labels=("a",), sources=("email",))


def by_text(project):
    return {i.text: i for i in Item.objects.filter(project=project)}


def test_exact_and_near_duplicates_within_one_import(project, tmp_path):
    texts = [LONG, "  " + LONG.upper().replace(" ", "   ") + " ", LONG + "\n\nSent from my iPhone",
             "Where is my parcel? It should have arrived last Monday.", LONG.replace("two", "three")]
    result = import_path(project, write_jsonl(tmp_path / "a.jsonl", texts))
    assert result.ok and result.exact_duplicates == 1 and result.near_duplicates == 2
    items = by_text(project)
    first = items[LONG]
    assert first.dup_group == first.id
    assert {items[t].dup_group for t in texts if t != texts[3]} == {first.id}
    assert items[texts[3]].dup_group == items[texts[3]].id
    # Only one item per exact text carries LSH keys; the exact copy is found by its hash.
    assert ItemLsh.objects.filter(project=project).count() == 4
    assert list(exact_duplicates_of(first)) == [items[texts[1]]]
    assert exact_duplicate_map(project, [first.id, items[texts[3]].id]) == {first.id: [items[texts[1]].id], items[texts[3]].id: []}


def test_later_import_joins_earlier_groups(project, tmp_path):
    import_path(project, write_jsonl(tmp_path / "first.jsonl", [LONG, "Please change my delivery address to Oslo in Norway."]))
    first = by_text(project)[LONG]
    second = [LONG.lower(), LONG.replace("blue", "green"), "please change my delivery address to Oslo, in Norway!!"]
    result = import_path(project, write_jsonl(tmp_path / "second.jsonl", second))
    assert result.exact_duplicates == 1 and result.near_duplicates == 2
    items = by_text(project)
    assert items[second[0]].dup_group == first.id and items[second[1]].dup_group == first.id
    assert items[second[2]].dup_group == items["Please change my delivery address to Oslo in Norway."].id
    assert set(group_members(project, first.id).values_list("text", flat=True)) == {LONG, *second[:2]}


def test_a_bridging_item_joins_the_oldest_group_without_merging_groups(project, tmp_path):
    """b resembles both a and c, a and c do not resemble each other: b joins a's (older) group and
    c keeps its own, so no chain a-b-c forms and no existing group id ever changes."""
    rng = random.Random(3)
    words = [rng.choice(WORDS) + str(i % 3 and "") for i in range(60)]
    a, b, c = " ".join(words[0:50]), " ".join(words[5:55]), " ".join(words[10:60])
    fa, fb, fc = dedup.features([a, b, c])
    assert dedup.similarity(fa, fc) < 0.8 <= min(dedup.similarity(fa, fb), dedup.similarity(fb, fc))
    import_path(project, write_jsonl(tmp_path / "a.jsonl", [a]))
    import_path(project, write_jsonl(tmp_path / "c.jsonl", [c]))
    items = by_text(project)
    assert items[a].dup_group == items[a].id and items[c].dup_group == items[c].id
    import_path(project, write_jsonl(tmp_path / "b.jsonl", [b]))
    items = by_text(project)
    assert items[b].dup_group == items[a].dup_group == items[a].id
    assert items[c].dup_group == items[c].id


def test_threshold_is_the_projects(project, tmp_path):
    variant = LONG.replace("shattered", "cracked").replace("replacements", "new ones") + " Regards, Kim"
    sim = dedup.similarity(*dedup.features([LONG, variant]))
    project.near_dup_threshold = sim + 0.02
    project.save()
    import_path(project, write_jsonl(tmp_path / "one.jsonl", [LONG, variant]))
    items = by_text(project)
    assert items[LONG].dup_group != items[variant].dup_group
    project.near_dup_threshold = sim - 0.02
    project.save()
    import_path(project, write_jsonl(tmp_path / "two.jsonl", [variant + " again"]))
    assert by_text(project)[variant + " again"].dup_group in {items[LONG].id, items[variant].id}


def test_chunks_and_large_groups(project, tmp_path, monkeypatch):
    from labeling.items import importer

    monkeypatch.setattr(importer, "CHUNK", 7)  # many chunks: groups must span chunk borders
    rng = random.Random(1)
    bases = [" ".join(rng.choice(WORDS) for _ in range(30)) for _ in range(6)]
    texts = [rng.choice(bases) + rng.choice(["", " ok", "!", " thanks"]) for _ in range(40)]
    import_path(project, write_jsonl(tmp_path / "many.jsonl", texts))
    items = list(Item.objects.filter(project=project).order_by("id"))
    groups = {}
    for item in items:
        base = next(b for b in bases if item.text.startswith(b))
        groups.setdefault(base, set()).add(item.dup_group)
    assert all(len(g) == 1 for g in groups.values())
    firsts = {min(i.id for i in items if i.text.startswith(b)) for b in groups}
    assert {g.pop() for g in groups.values()} == firsts


@pytest.mark.django_db(transaction=True)
def test_concurrent_imports_into_one_project_see_each_other(project_factory, tmp_path):
    """PostgreSQL: two imports at once are serialised per project, so the second groups its rows
    with the first's. (SQLite serialises writers by itself.)"""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    project = project_factory("concurrent", labels=("a",), sources=("email",))
    files = [write_jsonl(tmp_path / f"{n}.jsonl", [text] + [f"filler {n} {i} " + " ".join(WORDS[i:i + 9]) for i in range(30)])
             for n, text in enumerate([LONG, LONG.upper() + " Thanks, Sam"])]
    barrier, results = threading.Barrier(2), []

    def run(path):
        try:
            barrier.wait()
            results.append(import_path(project, path).ok)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(f,)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [True, True]
    items = by_text(project)
    assert items[LONG].dup_group == items[LONG.upper() + " Thanks, Sam"].dup_group
