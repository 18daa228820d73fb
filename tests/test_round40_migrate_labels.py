"""A team moving from another labeling tool brings its labeled rows: into a fresh project, into a
project that already holds its corpus, and back out again through the export. Each test goes
through the real importer (``import_items`` / ``run_import``), the export streams and the lead's
pages and API, on PostgreSQL where the suite runs on it."""
import json
import re

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation
from labeling.items.importer import run_import
from labeling.items.models import ImportBatch, Item
from labeling.modeling.models import Embedding
from labeling.projects.models import Membership
from learner.text import exact_text_hash

from .test_loop_helpers import label_text, unit

pytestmark = pytest.mark.django_db

# An export of another tool: one labeled ticket and an unlabeled copy of it, one more labeled ticket.
ORIGIN = ("text,source,label\n"
          "My card was charged twice,email,billing\n"
          "Cannot sign in to the app,email,login\n"
          "Cannot sign in to the app,email,\n")


def labeled_items(project) -> set[int]:
    return set(Annotation.objects.filter(project=project, undone=False, skipped=False, label__isnull=False)
               .values_list("item_id", flat=True))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_round_trip_with_duplicates_adds_no_label_nobody_gave(project_factory, make_user, tmp_path, fmt):
    """Export with include_duplicates (the unlabeled copy comes out with label_source "duplicate") and
    import the file into a fresh project: the copy must come back as the unlabeled item it was, not
    as one more imported label that trains the model and counts as labeled."""
    origin = project_factory("origin", labels=("billing", "login"), sources=("email",))
    source = tmp_path / "tickets.csv"
    source.write_text(ORIGIN, encoding="utf-8")
    assert run_import(origin, source).ok
    assert len(labeled_items(origin)) == 2

    lead = make_user("lea")
    Membership.objects.create(project=origin, user=lead, role=Membership.LEAD)
    client = APIClient()
    client.force_login(lead)
    response = client.get(f"/api/projects/{origin.slug}/export/{fmt}/?include_duplicates=true")
    assert response.status_code == 200
    exported = tmp_path / f"labels.{fmt}"
    exported.write_bytes(b"".join(response.streaming_content))
    sources_of_rows = [json.loads(line)["label_source"] for line in exported.read_text().splitlines()] \
        if fmt == "jsonl" else None
    if sources_of_rows is not None:
        assert sorted(sources_of_rows) == ["duplicate", "import", "import"]

    copy = project_factory(f"copy-{fmt}", labels=("billing", "login"), sources=("email",))
    call_command("import_items", copy.slug, str(exported), "--no-progress")
    # Every label of the origin comes back, and no other: the origin has 2 labeled items.
    assert len(labeled_items(copy)) == 2, list(
        Annotation.objects.filter(project=copy).values_list("item__text", "label__name", "origin"))


def test_labels_for_items_already_imported_can_be_brought_in(project_factory, tmp_path):
    """The corpus was imported first (as a team moving in does: all tickets, then its labels). The
    labels file names the same tickets by external_id: the tickets must get their labels, without a
    second copy of each ticket. Today the file is refused ("external_id … is already in project"),
    and without external_ids the refusal says the row "would duplicate the item and its label" (the
    item has none) and advises giving rows an external_id, which imports a second copy of every
    ticket."""
    project = project_factory("moving", labels=("billing", "login"), sources=("email",))
    corpus = tmp_path / "corpus.csv"
    corpus.write_text("external_id,text,source\nT1,My card was charged twice,email\n"
                      "T2,Cannot sign in to the app,email\n", encoding="utf-8")
    call_command("import_items", project.slug, str(corpus), "--no-progress")
    labels = tmp_path / "labels.csv"
    labels.write_text("external_id,text,source,label\nT1,My card was charged twice,email,billing\n", encoding="utf-8")
    try:
        call_command("import_items", project.slug, str(labels), "--no-progress")
    except CommandError:
        pass
    batch = ImportBatch.objects.filter(project=project).latest("id")
    assert batch.state == "done", batch.errors
    item = Item.objects.get(project=project, external_id="T1")
    assert Item.objects.filter(project=project).count() == 2
    assert list(Annotation.objects.filter(item=item).values_list("label__name", flat=True)) == ["billing"]


def test_refusal_of_a_labeled_row_for_an_unlabeled_item_says_no_false_thing(project_factory, tmp_path):
    """Without external_ids: the row brings a label to an unlabeled item. Refused, the message must
    not say the row would duplicate "its label" when the project's item has no label at all."""
    project = project_factory("moving2", labels=("billing", "login"), sources=("email",))
    corpus = tmp_path / "corpus.csv"
    corpus.write_text("text,source\nMy card was charged twice,email\n", encoding="utf-8")
    call_command("import_items", project.slug, str(corpus), "--no-progress")
    labels = tmp_path / "labels.csv"
    labels.write_text("text,source,label\nMy card was charged twice,email,billing\n", encoding="utf-8")
    try:
        call_command("import_items", project.slug, str(labels), "--no-progress")
    except CommandError:
        pass
    item = Item.objects.get(project=project)
    if item.annotations.exists():  # the label was brought to the item: nothing was duplicated
        return
    messages = [e["message"] for e in ImportBatch.objects.filter(project=project).latest("id").errors]
    assert not any("duplicate the item and its label" in m for m in messages), messages


def test_the_overview_pool_is_what_waves_can_draw_after_labels_come_in_as_copies(project_factory, make_user,
                                                                                 tmp_path):
    """The corpus (8 tickets) is imported, then the team's labels for all 8 as separate rows (the
    external_ids of its old tool): each labeled row is an exact duplicate of a corpus ticket. The
    overview then says "8 unlabeled in the pool" — "the unlabeled items waves draw from and the
    dashboard's estimates speak for" — while planning finds nothing to draw: the planner never picks
    a duplicate of a labeled item. The two must agree."""
    project = project_factory("pooled", labels=("billing", "login"), sources=("email",))
    project.wave_size = 8
    project.save()
    lead = make_user("lea")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    texts = [f"Ticket number {word} about my account and a charge" for word in
             ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"external_id": f"C{i}", "text": t, "source": "email"}) + "\n"
                              for i, t in enumerate(texts)), encoding="utf-8")
    assert run_import(project, corpus).ok
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps({"external_id": f"L{i}", "text": t, "source": "email",
                                          "label": ("billing", "login")[i % 2]}) + "\n"
                              for i, t in enumerate(texts)), encoding="utf-8")
    assert run_import(project, labels).ok
    rng = np.random.default_rng(0)
    items = list(Item.objects.filter(project=project))
    hashes = sorted({item.text_hash for item in items})
    rows = [Embedding(model_id=settings.LONGTAIL_MODEL_ID, text_hash=h, vector=v.tobytes())
            for h, v in zip(hashes, unit(rng, len(hashes)), strict=True)]
    rows += [Embedding(model_id=settings.LONGTAIL_MODEL_ID, text_hash=exact_text_hash(label_text(label)),
                       vector=unit(rng, 1)[0].tobytes()) for label in project.labels.all()]
    Embedding.objects.bulk_create(rows, ignore_conflicts=True)

    client = APIClient()
    client.force_login(lead)
    page = client.get(f"/p/{project.slug}/")
    assert page.status_code == 200
    html = page.content.decode()
    shown = int(re.search(r"(\d+) unlabeled in the pool", html).group(1))
    plan = client.post(f"/api/projects/{project.slug}/waves/plan/", {}, format="json")
    drawn = len(plan.json().get("items", [])) if plan.status_code == 201 else 0
    if plan.status_code == 201:
        drawn = plan.json().get("size", drawn)
    # The overview says `shown` items wait for waves; the planner, asked for that many, draws `drawn`.
    assert shown == 0 or drawn > 0, (shown, plan.status_code, plan.content[:400])


def test_estimates_do_not_claim_to_cover_copies_of_labeled_items(project_factory, tmp_path):
    """The same migration with a model active: 60 tickets, then labeled copies of 30 of them. A wave
    drawn by the real planner takes the other 30 (the copies' twins have π = 0: never drawn), and all
    30 picks are answered. The estimates' coverage must not say the figures speak for the 30
    unlabeled twins left "in the pool", which no wave can ever draw (as round 36 took excluded items
    out of it for the same reason)."""
    from labeling.projects.estimates import version_estimates
    from labeling.waves.models import WaveItem
    from labeling.waves.services import open_wave, plan_next_wave

    from .review_helpers import add_version

    project = project_factory("twins", labels=("x", "y"), sources=("mail",))
    project.wave_size = 30
    project.save()
    rng = np.random.default_rng(1)
    words = ["apple", "river", "stone", "cloud", "maple", "tiger", "piano", "lemon", "ocean", "candle", "forest",
             "violet", "harbor", "copper", "meadow", "silver", "garden", "rocket", "pepper", "island"]
    texts = [" ".join(rng.choice(words, size=8)) + f" ticket {i}" for i in range(60)]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"external_id": f"C{i}", "text": t, "source": "mail"}) + "\n"
                              for i, t in enumerate(texts)), encoding="utf-8")
    assert run_import(project, corpus).ok
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps({"external_id": f"L{i}", "text": t, "source": "mail",
                                          "label": ("x", "y")[i % 2]}) + "\n"
                              for i, t in enumerate(texts[:30])), encoding="utf-8")
    assert run_import(project, labels).ok
    items = list(Item.objects.filter(project=project).order_by("id"))
    hashes = sorted({item.text_hash for item in items})
    rows = [Embedding(model_id=settings.LONGTAIL_MODEL_ID, text_hash=h, vector=v.tobytes())
            for h, v in zip(hashes, unit(rng, len(hashes)), strict=True)]
    rows += [Embedding(model_id=settings.LONGTAIL_MODEL_ID, text_hash=exact_text_hash(label_text(label)),
                       vector=unit(rng, 1)[0].tobytes()) for label in project.labels.all()]
    Embedding.objects.bulk_create(rows, ignore_conflicts=True)
    add_version(project, 1, {item.pk: (int(rng.integers(2)), float(rng.uniform(0.4, 0.95))) for item in items})
    wave = open_wave(plan_next_wave(project))
    picks = list(WaveItem.objects.filter(wave=wave, inclusion_prob__isnull=False).select_related("item"))
    twins_of_labeled = {item.pk for item in items if item.external_id and item.external_id.startswith("C")
                        and int(item.external_id[1:]) < 30}
    assert picks and not [p for p in picks if p.item_id in twins_of_labeled]  # never drawn: π = 0
    by_name = {label.name: label for label in project.labels.all()}
    Annotation.objects.bulk_create([Annotation(project=project, item=p.item, label=by_name[("x", "y")[n % 2]],
                                               origin=Annotation.IMPORT) for n, p in enumerate(picks)])
    coverage = version_estimates(project)[1]["sample"]["coverage"]
    left = Item.objects.filter(project=project, annotations__isnull=True).count()
    assert left == 30 + 30 - len(picks)
    # Every unlabeled item left is either a twin of a labeled item or was eligible and not drawn.
    drawable_left = 30 - len(picks)
    assert coverage["items"] == drawable_left, coverage["summary"]


def test_review_routing_sends_no_copy_of_an_imported_label_to_the_lead(project_factory, tmp_path):
    """With labels brought in as copies of corpus tickets, a routing pass under a model that doubts
    every ticket opens low-confidence tasks. A ticket whose exact copy already carries the team's
    label is no unlabeled pool item the planner would ever draw; sending it to the lead asks again
    for a label the project has (and "accept" would store the model's guess beside it)."""
    from labeling.annotations.models import ReviewTask
    from labeling.modeling.review import route_review

    from .review_helpers import add_version

    project = project_factory("routed", labels=("billing", "login"), sources=("email",))
    project.review_share_min, project.review_share_max = 0.05, 1.0
    project.band_low, project.band_high = 0.3, 0.7
    project.save()
    # six tickets no near-duplicate rule groups together (one group would leave none to route)
    texts = ["My card was charged twice for one coffee", "I cannot sign in since the password reset",
             "Please send the invoice for March again", "The app logs me out every few minutes",
             "Refund the annual plan I cancelled yesterday", "Two factor codes never reach my phone"]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"external_id": f"C{i}", "text": t, "source": "email"}) + "\n"
                              for i, t in enumerate(texts)), encoding="utf-8")
    assert run_import(project, corpus).ok
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps({"external_id": f"L{i}", "text": t, "source": "email",
                                          "label": "billing"}) + "\n"
                              for i, t in enumerate(texts[:3])), encoding="utf-8")
    assert run_import(project, labels).ok
    items = list(Item.objects.filter(project=project))
    route_review(add_version(project, 1, {item.pk: (1, 0.5) for item in items}))  # every prediction doubtful
    routed = set(ReviewTask.objects.filter(project=project, reason=ReviewTask.LOW_CONFIDENCE,
                                           resolved_at__isnull=True).values_list("item__external_id", flat=True))
    assert routed  # the three tickets without a labeled copy are routed
    assert routed == {"C3", "C4", "C5"}, sorted(routed)
