"""The lead pages' reads in labeling/annotations/selectors.py made cheaper without changing a figure:
the median seconds per answer computed in PostgreSQL (lag() over each annotator's answers) equal the
ones computed in Python from every answer's time (SQLite's path), the double-labeled pairs are read
only from items two or more annotators answered, and a page can read those pairs once for both of
its panels."""
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from labeling.annotations import selectors
from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.projects.models import Membership
from learner.text import text_hash

from .test_annotation_helpers import add_member

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def new_item(project):
    text = f"{project.slug} item {Item.objects.count()}"
    return Item.objects.create(project=project, text=text, text_hash=text_hash(text))


def answer_at(project, user, seconds, *, item=None, label=None, **fields):
    """An answer by ``user`` given ``seconds`` after T0 (a new item unless one is named)."""
    label = label if label is not None or fields.get("skipped") else project.labels.first()
    row = Annotation.objects.create(project=project, item=item or new_item(project), annotator=user,
                                    label=label, **fields)
    Annotation.objects.filter(pk=row.pk).update(created_at=T0 + timedelta(seconds=seconds))
    return row


@pytest.fixture
def timed_answers(project_factory, make_user):
    """Answers whose gaps are known: every rule of the median in play (see the comments)."""
    project = project_factory("timed")
    other = project_factory("other")
    ann, bob, cid, dee, eve = (add_member(make_user, project, name) for name in ("ann", "bob", "cid", "dee", "eve"))
    add_member(make_user, project, "idle")
    root = make_user("root", superuser=True)  # answers without being a member
    # ann: gaps 30, 20 (to a skip, which counts), exactly 10 minutes (counts), 10 minutes and a
    # microsecond (a break) and 12.5; her undone answer, her adjudication and her answer in another
    # project fall between and must not cut a gap. Median of 12.5, 20, 30, 600: 25.
    for seconds in (0, 30):
        answer_at(project, ann, seconds)
    answer_at(project, ann, 40, undone=True)
    answer_at(project, ann, 45, origin=Annotation.ADJUDICATION)
    answer_at(other, ann, 47)
    answer_at(project, ann, 50, skipped=True, label=None, skip_reason="unclear")
    answer_at(project, ann, 650)
    answer_at(project, ann, 1250.000001)
    answer_at(project, ann, 1262.500001)
    answer_at(project, bob, 100)  # one answer: no gap
    for seconds in (0, 5, 14, 114):  # cid: gaps 5, 9, 100 (odd count): 9
        answer_at(project, cid, seconds)
    for seconds in (0, 1.0, 2.1):  # dee: gaps 1.0 and 1.1: (1.0 + 1.1) / 2 = 1.05, shown as 1.1
        answer_at(project, dee, seconds)
    answer_at(project, dee, 3000, undone=True)  # undone: neither a gap nor her last answer
    for seconds in (60, 60):  # eve: two answers at the same instant: a gap of 0
        answer_at(project, eve, seconds)
    answer_at(project, eve, 2000, undone=True)
    answer_at(project, eve, 2001, undone=True)  # only undone answers between them: still no gap
    for seconds in (7, 52):  # root: 45
        answer_at(project, root, seconds)
    answer_at(project, make_user("gone"), 3, undone=True)  # only undone answers: no median, no times
    return project, {"ann": ann, "bob": bob, "cid": cid, "dee": dee, "eve": eve, "root": root}


def at(seconds):
    return (T0 + timedelta(seconds=seconds)).isoformat()


def test_median_gaps_in_postgresql_equal_those_in_python(postgres_only, timed_answers):
    project, users = timed_answers
    expected = {users["ann"].pk: 25.0, users["cid"].pk: 9.0, users["dee"].pk: 1.05, users["eve"].pk: 0.0,
                users["root"].pk: 45.0}
    in_sql = selectors.median_answer_gaps_sql(project)
    in_python = selectors.median_answer_gaps_python(project)
    assert in_sql == pytest.approx(expected, abs=1e-9)
    assert in_sql == in_python  # to the last bit: the page rounds to a tenth
    # and the table shows them (PostgreSQL's path), with each annotator's first and last answer
    rows = {row["username"]: row for row in selectors.annotator_throughput(project)}
    shown = {name: (row["median_seconds_per_answer"], row["first_answer_at"], row["last_answer_at"],
                    row["answers"], row["skips"], row["undone"], row["role"]) for name, row in rows.items()}
    assert shown == {
        "ann": (25.0, at(0), at(1262.500001), 5, 1, 1, Membership.ANNOTATOR),
        "bob": (None, at(100), at(100), 1, 0, 0, Membership.ANNOTATOR),
        "cid": (9.0, at(0), at(114), 4, 0, 0, Membership.ANNOTATOR),
        "dee": (1.1, at(0), at(2.1), 3, 0, 1, Membership.ANNOTATOR),
        "eve": (0.0, at(60), at(60), 2, 0, 2, Membership.ANNOTATOR),
        "idle": (None, None, None, 0, 0, 0, Membership.ANNOTATOR),
        "root": (45.0, at(7), at(52), 2, 0, 0, "admin"),
        "gone": (None, None, None, 0, 0, 1, None),
    }


def test_pairs_are_read_only_from_items_two_annotators_answered(postgres_only, project_factory, make_user):
    project = project_factory("pairs")
    billing, login = project.labels.get(name="billing"), project.labels.get(name="login")
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    shared, changed, alone, with_skip, with_undone, with_import = (new_item(project) for _ in range(6))
    answer_at(project, ann, 0, item=shared, label=billing)
    answer_at(project, bob, 1, item=shared, label=login)
    answer_at(project, bob, 2, item=changed, label=billing)
    answer_at(project, ann, 3, item=changed, label=billing)
    answer_at(project, bob, 4, item=changed, label=login)  # bob's latest: he is now the later one
    answer_at(project, ann, 5, item=alone, label=billing)
    answer_at(project, ann, 6, item=alone, label=login)  # one annotator twice: no pair
    answer_at(project, ann, 7, item=with_skip, label=billing)
    answer_at(project, bob, 8, item=with_skip, skipped=True, label=None)
    answer_at(project, ann, 9, item=with_undone, label=billing)
    answer_at(project, bob, 10, item=with_undone, label=billing, undone=True)
    answer_at(project, ann, 11, item=with_import, label=billing)
    answer_at(project, None, 12, item=with_import, label=login, origin=Annotation.IMPORT)
    for i in range(20):  # the single answers most items have
        answer_at(project, [ann, bob][i % 2], 20 + i)
    fetched = []

    def count_rows(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        fetched.append(context["cursor"].rowcount)  # rows the query returned (PostgreSQL counts them)
        return result

    with connection.execute_wrapper(count_rows):
        pairs = selectors.double_labeled_pairs(project)
    assert sorted(pairs) == sorted([(shared.pk, ann.pk, billing.pk, bob.pk, login.pk),
                                    (changed.pk, ann.pk, billing.pk, bob.pk, login.pk)])
    assert fetched == [5]  # the two items' five answers, not the project's 30 current ones


def test_a_page_reads_the_pairs_once_for_both_panels(project_factory, make_user):
    project = project_factory("once")
    billing = project.labels.get(name="billing")
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    for i in range(6):
        item = new_item(project)
        answer_at(project, ann, 2 * i, item=item, label=billing)
        answer_at(project, bob, 2 * i + 1, item=item, label=billing)
    pairs = selectors.double_labeled_pairs(project)
    assert selectors.agreement_summary(project, pairs=pairs) == selectors.agreement_summary(project)
    assert selectors.annotator_throughput(project, pairs=pairs) == selectors.annotator_throughput(project)
    # The pairs handed in are the ones counted: none handed in, none counted.
    assert selectors.agreement_summary(project, pairs=[])["pairs"] == 0
    assert selectors.agreement_summary(project)["pairs"] == 6
    assert {row["double_labeled"] for row in selectors.annotator_throughput(project, pairs=[])} == {0}
