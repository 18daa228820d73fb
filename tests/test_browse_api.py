"""Item browser API: every filter returns exactly the planted items, keyset pagination walks every
item once, bad parameters answer 400 naming them, roles as elsewhere (annotators 403, outsiders
404), the SQL resolved label agrees with the learner's, PostgreSQL search uses its GIN index,
and the answers list reports undone and superseded answers."""
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from labeling.annotations import leasing
from labeling.annotations import review_services as annotation_review_services
from labeling.annotations import services as annotation_services
from labeling.annotations.models import Annotation, Assignment, ReviewTask
from labeling.annotations.selectors import resolve_item_labels
from labeling.items import browse, paging
from labeling.items.models import Item
from labeling.projects.models import Membership

from .test_annotation_helpers import add_member, make_open_wave
from .test_browse_helpers import answer_row, make_item, planted_project

pytestmark = pytest.mark.django_db


def api_as(user):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def planted(world, make_user):
    alpha = world["alpha"]
    users = {"ann": world["annotator"], "bob": add_member(make_user, alpha, "bob")}
    return planted_project(alpha, users)


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def query(world, params):
    return api_as(world["lead"]).get("/api/projects/alpha/items/", params)


def planted_ids(planted, *names):
    return {planted[name].id for name in names}


EXACT = [
    ({"label": "fraud"}, {"fraud_import"}),
    # 1 billing vs 1 login answer: the tie goes to the newer answer (login).
    ({"label": "login"}, {"disputed", "login_wave2"}),
    ({"label": "billing"}, set()),
    ({"annotator": "ann"}, {"disputed", "skipped"}),
    ({"annotator": "ann", "answer_label": "billing"}, {"disputed"}),
    ({"answer_label": "login"}, {"disputed", "login_wave2"}),
    ({"annotator": "bob", "answer_label": "billing"}, set()),
    ({"source": "chat", "state": "labeled"}, {"fraud_import", "login_wave2"}),
    ({"wave": 1}, {"in_wave"}),
    ({"wave": 2}, {"login_wave2"}),
    ({"strategy": "rare"}, {"in_wave"}),
    ({"wave": 2, "strategy": "rare"}, set()),
    ({"state": "in_wave"}, {"in_wave"}),
    ({"state": "labeled"}, {"fraud_import", "disputed", "login_wave2"}),
    ({"state": "skipped"}, {"skipped"}),
    ({"state": "disputed"}, {"disputed"}),
    ({"state": "in_review"}, {"disputed", "in_review"}),
    ({"predicted": "fraud"}, {"fraud_sure", "fraud_unsure"}),
    ({"predicted": "fraud", "min_confidence": 0.5}, {"fraud_sure"}),
    ({"max_confidence": 0.5}, {"fraud_unsure"}),
    ({"min_confidence": 0.85}, {"fraud_sure", "billing_scored"}),
    ({"dup_group": 777}, {"dup_a", "dup_b"}),
    ({"excluded": "true"}, {"excluded"}),
    ({"pinned": "true"}, {"pinned"}),
    ({"q": "zeppelin"}, {"zeppelin"}),
    ({"q": "strong winds"}, {"zeppelin"}),
    ({"q": "card"}, {"fraud_import"}),
    ({"q": "withdrawal", "source": "email", "predicted": "fraud"}, {"fraud_unsure"}),
    ({"q": "withdrawal", "state": "unlabeled", "min_confidence": 0.9}, {"fraud_sure"}),
]


@pytest.mark.parametrize("params,expected", EXACT, ids=[str(p) for p, _ in EXACT])
def test_each_filter_returns_exactly_the_planted_items(world, planted, params, expected):
    assert ids(query(world, params)) == planted_ids(planted, *expected)


def test_unlabeled_is_everything_without_a_live_answer_outside_unfinished_waves(world, planted):
    busy = planted_ids(planted, "fraud_import", "disputed", "in_wave", "skipped", "login_wave2")
    everything = set(Item.objects.filter(project=world["alpha"]).values_list("id", flat=True))
    got = ids(query(world, {"state": "unlabeled", "page_size": 200}))
    assert got == everything - busy and planted["undone_only"].id in got


def test_rows_carry_state_labels_prediction_and_waves(world, planted):
    rows = {r["id"]: r for r in query(world, {"page_size": 200}).json()["results"]}
    disputed = rows[planted["disputed"].id]
    assert (disputed["state"], disputed["resolved_label"], disputed["answers"]) == ("disputed", "login", 2)
    assert rows[planted["login_wave2"].id]["waves"] == [2]
    sure = rows[planted["fraud_sure"].id]
    assert (sure["predicted_label"], round(sure["confidence"], 2)) == ("fraud", 0.93)
    assert rows[planted["skipped"].id]["state"] == "skipped"
    assert rows[planted["in_wave"].id]["state"] == "in_wave"


def test_sql_resolved_label_agrees_with_the_learner(world, make_user):
    """Majorities, ties (newest wins), adjudications (newest adjudication wins), undone and
    skipped answers: the browser's SQL and labeling.annotations.selectors.resolve_item_labels must agree."""
    project = world["alpha"]
    users = [world["annotator"], add_member(make_user, project, "u2"), add_member(make_user, project, "u3")]
    billing, login, fraud = (project.labels.get(name=n) for n in ("billing", "login", "fraud"))
    t0 = timezone.now() - timedelta(hours=5)
    cases = [
        [(billing, 0), (billing, 1), (login, 2)],                       # majority billing
        [(billing, 0), (login, 1)],                                      # tie → login (newer)
        [(login, 0), (billing, 1)],                                      # tie → billing (newer)
        [(billing, 0), (billing, 1), (fraud, 2, "adjudication")],        # adjudication beats majority
        [(fraud, 0, "adjudication"), (login, 1, "adjudication"), (fraud, 2)],  # newest adjudication
        [(billing, 0), (login, 1, "undone"), (login, 2, "undone")],      # undone answers do not count
        [(None, 0, "skip"), (fraud, 1)],                                 # skips do not count
        [(billing, 0, "import"), (login, 1), (login, 2)],                # imports count like answers
    ]
    for n, case in enumerate(cases):
        item = make_item(project, f"resolution case {n}")
        for k, (label, minute, *flag) in enumerate(case):
            kind = flag[0] if flag else ""
            origin = {"adjudication": Annotation.ADJUDICATION, "import": Annotation.IMPORT}.get(kind,
                                                                                               Annotation.ANNOTATOR)
            answer_row(project, item, label, users[k % 3] if origin == Annotation.ANNOTATOR else None, origin=origin,
                       skipped=kind == "skip", undone=kind == "undone", reason="unclear" if kind == "skip" else "",
                       at=t0 + timedelta(minutes=minute))
    expected = resolve_item_labels(project)
    project_ids = list(Item.objects.filter(project=project).values_list("id", flat=True))
    ours = {i: f["resolved"] for i, f in browse.row_states(project, project_ids).items() if f["resolved"]}
    assert ours == expected
    assert len(expected) == len(cases)


def test_keyset_pages_walk_every_item_once_newest_first(world):
    project = world["alpha"]
    Item.objects.bulk_create([Item(project=project, text=f"row {i}", text_hash=f"h{i}") for i in range(123)])
    client, seen, url = api_as(world["lead"]), [], "/api/projects/alpha/items/?page_size=50&count=true"
    while url:
        body = client.get(url).json()
        assert (body["count"], body["count_capped"]) == (123, False)
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert len(seen) == 123 and seen == sorted(seen, reverse=True)


def test_count_is_capped(world, monkeypatch):
    project = world["alpha"]
    Item.objects.bulk_create([Item(project=project, text=f"row {i}", text_hash=f"h{i}") for i in range(30)])
    monkeypatch.setattr(paging.ItemCursorPagination, "count_cap", 20)
    body = query(world, {"page_size": 5, "count": "true"}).json()
    assert (body["count"], body["count_capped"], len(body["results"])) == (20, True, 5)
    plain = query(world, {"page_size": 5}).json()  # counting is opt-in: it costs more than a page
    assert (plain["count"], len(plain["results"])) == (None, 5)
    assert query(world, {"count": "maybe"}).status_code == 400


def test_confidence_sort_lists_scored_items_by_probability(world, planted):
    desc = [r["id"] for r in query(world, {"sort": "confidence_desc"}).json()["results"]]
    assert desc == [planted[n].id for n in ("fraud_sure", "billing_scored", "fraud_unsure")]
    asc = [r["id"] for r in query(world, {"sort": "confidence_asc", "page_size": 2}).json()["results"]]
    assert asc == [planted[n].id for n in ("fraud_unsure", "billing_scored")]


@pytest.mark.parametrize("params,field", [
    ({"state": "lost"}, "state"), ({"label": "nope"}, "label"), ({"source": "fax"}, "source"),
    ({"min_confidence": 2}, "min_confidence"), ({"min_confidence": 0.8, "max_confidence": 0.2}, "max_confidence"),
    ({"wave": "x"}, "wave"), ({"wave": "1.5"}, "wave"), ({"sort": "random"}, "sort"),
    ({"annotator": "nobody"}, "annotator"), ({"q": "x" * 201}, "q"),
])
def test_bad_parameters_answer_400_naming_them(world, planted, params, field):
    response = query(world, params)
    assert response.status_code == 400
    assert field in response.json()


def test_bad_cursor_is_404_not_500(world, planted):
    assert query(world, {"cursor": "garbage"}).status_code == 404


def test_another_projects_label_is_refused(world, planted):
    beta = world["beta"]
    beta.labels.create(name="beta-only")
    assert query(world, {"label": "beta-only"}).status_code == 400


@pytest.mark.parametrize("path", ["items/", "answers/", "items/{item}/"])
def test_roles(world, planted, path):
    url = "/api/projects/alpha/" + path.format(item=planted["disputed"].id)
    assert api_as(None).get(url).status_code in (401, 403)
    assert api_as(world["annotator"]).get(url).status_code == 403
    assert api_as(world["outsider"]).get(url).status_code == 404
    assert api_as(world["lead"]).get(url).status_code == 200
    assert api_as(world["admin"]).get(url).status_code == 200


def test_bulk_roles_and_validation(world, planted):
    url, body = "/api/projects/alpha/items/bulk/", {"action": "exclude", "items": [planted["pinned"].id]}
    assert api_as(world["annotator"]).post(url, body, format="json").status_code == 403
    assert api_as(world["outsider"]).post(url, body, format="json").status_code == 404
    lead = api_as(world["lead"])
    other = make_item(world["beta"], "not alpha's")
    refused = lead.post(url, {"action": "exclude", "items": [planted["pinned"].id, other.id]}, format="json")
    assert refused.status_code == 400 and str(other.id) in refused.json()["items"][0]
    assert not Item.objects.get(pk=planted["pinned"].id).excluded  # all or nothing
    assert lead.post(url, {"action": "burn", "items": [1]}, format="json").status_code == 400
    done = lead.post(url, body, format="json")
    assert done.status_code == 200 and done.json()["changed"] == 1
    pinned = Item.objects.get(pk=planted["pinned"].id)
    assert pinned.excluded and not pinned.pinned_for_next_wave
    again = lead.post(url, {"action": "review", "items": [planted["pinned"].id]}, format="json").json()
    assert again["changed"] == 1
    assert ReviewTask.objects.filter(item=planted["pinned"], resolved_at__isnull=True).count() == 1
    assert ids(query(world, {"state": "in_review", "excluded": "true"})) == {planted["pinned"].id}


def test_sqlite_fallback_contains_search_works_on_any_database(world, planted):
    """The fallback (every word contained) runs on PostgreSQL too; on SQLite it is the search."""
    found = browse.contains_search(browse.pool(world["alpha"]), "zeppelin WINDS")
    assert list(found.values_list("id", flat=True)) == [planted["zeppelin"].id]
    assert not browse.contains_search(browse.pool(world["alpha"]), "zeppelin ocean").exists()
    if connection.vendor == "sqlite":
        assert ids(query(world, {"q": "eppeli"})) == {planted["zeppelin"].id}  # substrings match here


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the GIN index exists on PostgreSQL only")
def test_postgresql_search_is_stemmed_and_uses_the_gin_index(world, planted):
    assert ids(query(world, {"q": "zeppelin"})) == {planted["zeppelin"].id}  # "zeppelins" stems to it
    assert ids(query(world, {"q": "zeppelin -winds"})) == set()
    # The query's expression must be the indexed one; with sequential scans off, a mismatch shows
    # as a (costly) seq scan still, a match as a scan of the GIN index.
    queryset = browse.search(Item.objects.all(), "zeppelin")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = queryset.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "item_text_search" in plan, plan


def test_schema_documents_the_endpoints_with_their_errors(world):
    schema = api_as(world["admin"]).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in ("/api/projects/{slug}/items/", "/api/projects/{slug}/items/{item_id}/",
                 "/api/projects/{slug}/answers/", "/api/projects/{slug}/items/bulk/"):
        operation = schema["paths"][path].get("get") or schema["paths"][path]["post"]
        assert {"403", "404"} <= set(operation["responses"]), path
    params = {p["name"] for p in schema["paths"]["/api/projects/{slug}/items/"]["get"]["parameters"]}
    assert {"q", "label", "annotator", "answer_label", "source", "wave", "strategy", "state", "predicted",
            "min_confidence", "max_confidence", "dup_group", "sort", "cursor"} <= params


# --- answers and the item's story, through the real annotation services ---------------------------
@pytest.fixture
def story(world, make_user):
    """Item 0 of an open wave answered by ann (billing), reopened (undo) and answered again
    (fraud), answered by bob (fraud), then adjudicated by the lead (login)."""
    project = world["alpha"]
    project.overlap = 2
    project.save()
    bob = add_member(make_user, project, "bob")
    wave, items = make_open_wave(project, 2, double={0}, texts=["<b>card</b> charged twice", "other"],
                                 shuffle=False)
    item = items[0]
    labels = {label.name: label.id for label in project.labels.all()}

    def give(user, name):
        leasing.lease_batch(project, user, size=2)
        assignment = Assignment.objects.get(annotator=user, wave_item__item=item)
        return annotation_services.submit_answer(project, user, client_id=uuid.uuid4(),
                                                 assignment_id=assignment.pk, label_id=labels[name])

    give(world["annotator"], "billing")
    annotation_services.undo_last_answer(project, world["annotator"])
    give(world["annotator"], "fraud")
    give(bob, "fraud")
    task = ReviewTask.objects.create(project=project, item=item, reason=ReviewTask.LOW_CONFIDENCE)
    annotation_review_services.resolve_review(project, world["lead"], task_id=task.pk, label_id=labels["login"])
    return {"project": project, "item": item, "wave": wave}


def test_answers_list_filters_and_flags(world, story):
    client = api_as(world["lead"])
    rows = client.get("/api/projects/alpha/answers/", {"item": story["item"].id}).json()["results"]
    by = [(r["annotator"], r["label"], r["undone"], r["superseded"], r["wave"]) for r in reversed(rows)]
    assert by == [("ann", "billing", True, False, 1), ("ann", "fraud", False, True, 1),
                  ("bob", "fraud", False, True, 1), ("lena", "login", False, False, None)]
    assert len(client.get("/api/projects/alpha/answers/", {"annotator": "ann"}).json()["results"]) == 2
    assert len(client.get("/api/projects/alpha/answers/", {"wave": 1}).json()["results"]) == 3
    assert client.get("/api/projects/alpha/answers/", {"wave": 2}).json()["results"] == []
    live = client.get("/api/projects/alpha/answers/", {"item": story["item"].id, "undone": "false"}).json()
    assert len(live["results"]) == 3
    assert client.get("/api/projects/alpha/answers/", {"annotator": "ghost"}).status_code == 400


def test_item_detail_tells_the_whole_story(world, story):
    body = api_as(world["lead"]).get(f"/api/projects/alpha/items/{story['item'].id}/").json()
    assert body["text"] == "<b>card</b> charged twice"  # JSON carries the raw text; pages escape it
    assert body["resolved_label"] == "login"
    assert [(p["wave"], p["strategy"], p["inclusion_prob"]) for p in body["picks"]] == [(1, "rare", 0.25)]
    assert [(a["annotator"], a["label"], a["undone"]) for a in body["answers"]] == [
        ("ann", "billing", True), ("ann", "fraud", False), ("bob", "fraud", False), ("lena", "login", False)]
    assert [t["reason"] for t in body["review_tasks"]] == ["low_confidence"]
    assert body["neighbours"]["available"] is False  # nothing embedded in this test
    other = make_item(world["beta"], "beta's")
    assert api_as(world["lead"]).get(f"/api/projects/alpha/items/{other.id}/").status_code == 404


def test_membership_role_change_takes_effect(world, planted):
    Membership.objects.filter(user=world["annotator"]).update(role=Membership.LEAD)
    assert api_as(world["annotator"]).get("/api/projects/alpha/items/").status_code == 200
