"""The demo project: big enough, long-tailed, two levels, three sources, idempotent."""
from collections import Counter

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from labeling.items.demo_data import DEMO_SLUG, TAXONOMY, create_demo_project, ensure_users, generate_rows
from labeling.items.models import ImportBatch, Item
from labeling.projects.models import Label, Membership, Project, Rule, Source
from learner.rules import compile_rule


def test_generator_is_long_tailed_and_varied():
    rows = list(generate_rows(6000, seed=0))
    assert len(rows) == 6000 and len({r["external_id"] for r in rows}) == 6000
    assert Counter(r["source"] for r in rows).keys() == {"email", "chat", "social"}
    assert len({r["text"] for r in rows}) > 5500
    weights = [f.weight for _, children in TAXONOMY.values() for f in children]
    assert sum(w <= 1 for w in weights) >= 4 and max(weights) / min(weights) > 40
    assert list(generate_rows(50, seed=1)) == list(generate_rows(50, seed=1))


def test_demo_project_is_complete_and_idempotent(db):
    users = ensure_users()
    project, created = create_demo_project(users=users)
    assert created
    assert Item.objects.filter(project=project).count() >= 5000
    labels = Label.objects.filter(project=project)
    assert labels.count() >= 20
    coarse = labels.filter(parent__isnull=True, is_other=False)
    assert coarse.count() >= 4 and labels.filter(parent__isnull=False).count() >= 20
    assert all(label.description and label.hotkey for label in labels)
    assert len({label.hotkey for label in labels}) == labels.count()
    assert labels.filter(precision_target__isnull=False).count() >= 3
    assert labels.filter(is_other=True).count() == 1
    sources = Source.objects.filter(project=project)
    assert sources.count() >= 3 and abs(sum(s.quota for s in sources) - 1.0) < 1e-9
    rules = Rule.objects.filter(project=project)
    assert rules.count() >= 5
    for rule in rules:
        compile_rule(rule.kind, rule.pattern)
    assert Item.objects.filter(project=project).exclude(dup_group__isnull=False).count() == 0
    batch = ImportBatch.objects.get(project=project)
    assert batch.state == "done" and batch.near_duplicates > 50
    groups = Item.objects.filter(project=project).values("dup_group").distinct().count()
    assert 0.7 * batch.rows_imported < groups < batch.rows_imported
    # Rare labels' rules actually fire on some tickets.
    texts = list(Item.objects.filter(project=project).values_list("text", flat=True))
    takeover = compile_rule(Rule.REGEX, r"\bhack(ed|er)?\b|someone (else )?(logged|changed)")
    assert 5 < sum(bool(takeover.search(t)) for t in texts) < 200
    assert Membership.objects.filter(project=project, role=Membership.LEAD, user__username="lead").exists()
    assert authenticate(username="annotator", password="longtail-annotator") is not None
    assert authenticate(username="admin", password="longtail-admin").is_superuser

    before = (Item.objects.count(), Label.objects.count(), Rule.objects.count(), Source.objects.count(),
              Membership.objects.count())
    project2, created2 = create_demo_project(users=ensure_users())
    assert project2 == project and not created2
    assert before == (Item.objects.count(), Label.objects.count(), Rule.objects.count(), Source.objects.count(),
                      Membership.objects.count())


def test_setup_demo_command_prints_users_and_is_idempotent(db, capsys):
    from labeling.waves.models import Wave

    call_command("setup_demo", "--items", "60", "--password", "demo-pass-123")
    out = capsys.readouterr().out
    assert "admin" in out and "demo-pass-123" in out and "annotator" in out
    project = Project.objects.get(slug=DEMO_SLUG)
    waves = Wave.objects.filter(project=project)
    assert waves.count() == 1 and waves.get().state == Wave.OPEN  # the pool was embedded, wave 1 opened
    assert f"Wave 1 is open with {waves.get().size} items" in out and waves.get().size > 0
    waves = waves.count()
    call_command("setup_demo", "--items", "60", "--password", "demo-pass-123")
    assert "already exists" in capsys.readouterr().out
    assert Item.objects.count() == 60 and Project.objects.count() == 1
    assert Wave.objects.filter(project=project).count() == waves  # no second first wave
    assert authenticate(username="lead", password="demo-pass-123") is not None


@pytest.mark.parametrize("n", [1, 30])
def test_small_demo_sizes(db, n):
    project, _ = create_demo_project(slug=f"tiny-{n}", n_items=n)
    assert project.items.count() == n
