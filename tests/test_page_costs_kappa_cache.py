"""κ's bootstrap interval is kept in Django's cache (Redis here, as in production) under a digest
of the pairs it came from, so the dashboard, the agreement API and the review page do not run the
bootstrap again on every load; an answer that changes makes a new key, so a kept figure is never
shown for answers it did not come from. A cache that cannot be reached costs the bootstrap, not
the page."""
import logging
import uuid

import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from labeling.annotations.agreement import INTERVAL_CACHE_PREFIX
from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.projects.models import Membership
from learner.text import text_hash

from .test_annotation_helpers import add_member, api_as

pytestmark = pytest.mark.django_db
PLANTED = [0.111, 0.222]  # a figure no bootstrap of these pairs gives: seen only if read from the cache


def kept_interval_keys() -> list[str]:
    """The cache keys of kept intervals (as Django's cache names them, without its prefix)."""
    if hasattr(cache, "_cache") and hasattr(cache._cache, "get_client"):  # Redis
        client = cache._cache.get_client(None, write=False)
        raw = [key.decode() for key in client.scan_iter(match=cache.make_key(INTERVAL_CACHE_PREFIX + "*"), count=1000)]
        return [key.split(":", 2)[2] for key in raw]  # "<prefix>:<version>:<key>"
    return [key.split(":", 2)[2] for key in cache._cache if INTERVAL_CACHE_PREFIX in key]  # the in-process cache


def forget_intervals() -> None:
    for key in kept_interval_keys():
        cache.delete(key)


@pytest.fixture
def double_labeled(project_factory, make_user):
    """30 items answered by ann and bob (flat labels: one interval, no coarse one)."""
    project = project_factory("kcache")
    billing, login, fraud = project.labels.order_by("pk")
    lead = add_member(make_user, project, "lea", Membership.LEAD)
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    plan = [(billing, billing)] * 10 + [(login, login)] * 8 + [(fraud, fraud)] * 5 + [
        (billing, login), (login, billing), (fraud, billing), (billing, fraud), (login, fraud), (fraud, login),
        (billing, login)]
    bobs = []
    for i, (a, b) in enumerate(plan):
        item = Item.objects.create(project=project, text=f"ticket {i}", text_hash=text_hash(f"ticket {i}"))
        Annotation.objects.create(project=project, item=item, label=a, annotator=ann)
        bobs.append(Annotation.objects.create(project=project, item=item, label=b, annotator=bob))
    forget_intervals()  # figures kept by an earlier run for the same pairs
    yield {"project": project, "lead": lead, "bob": bob, "bobs": bobs, "labels": (billing, login, fraud)}
    forget_intervals()


def shown_intervals(lead) -> dict:
    """κ's interval on the agreement API, the dashboard's panel and the review page."""
    client = APIClient()
    client.force_login(lead)  # a browser's session: the review page is not an API view
    summary = client.get("/api/projects/kcache/agreement/").json()
    panel = client.get("/api/projects/kcache/dashboard/").json()["agreement"]
    page = client.get("/p/kcache/review/").content.decode()
    low, high = summary["kappa_ci"]
    return {"api": summary["kappa_ci"], "dashboard": panel["kappa_ci"],
            "review page": f"(95 % interval {low:.3f} to {high:.3f})" in page}


def test_the_pages_read_the_kept_interval_and_a_changed_answer_gives_a_new_one(double_labeled):
    lead, bob = double_labeled["lead"], double_labeled["bob"]
    first = api_as(lead).get("/api/projects/kcache/agreement/").json()["kappa_ci"]
    keys = kept_interval_keys()
    assert len(keys) == 1  # one interval (no coarse labels), kept
    cache.set(keys[0], tuple(PLANTED), 3600)
    # all three pages show the kept figure: none of them ran the bootstrap again
    assert shown_intervals(lead) == {"api": PLANTED, "dashboard": PLANTED, "review page": True}

    # bob changes one answer (billing → fraud on an item both had labeled billing): as many pairs
    # and answers as before, one of them different
    _, _, fraud = double_labeled["labels"]
    response = api_as(bob).post("/api/projects/kcache/annotations/change/", {
        "client_id": str(uuid.uuid4()), "supersedes": double_labeled["bobs"][0].pk, "label": fraud.pk}, format="json")
    assert response.status_code == 201, response.content
    summary = api_as(lead).get("/api/projects/kcache/agreement/").json()
    assert summary["pairs"] == 30
    changed = summary["kappa_ci"]
    assert changed != PLANTED and changed != first
    assert len(kept_interval_keys()) == 2  # the old pairs' figure and the new pairs' one
    forget_intervals()  # computed afresh: the figure the page showed is the new answers' own
    assert api_as(lead).get("/api/projects/kcache/agreement/").json()["kappa_ci"] == changed


def test_an_unreachable_cache_costs_the_bootstrap_not_the_interval(double_labeled, caplog):
    reachable = api_as(double_labeled["lead"]).get("/api/projects/kcache/agreement/").json()["kappa_ci"]
    # a port nothing listens on: every read and write of the cache fails at once
    unreachable = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                               "LOCATION": "redis://127.0.0.1:1/0",
                               "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
    with override_settings(CACHES=unreachable), caplog.at_level(logging.WARNING,
                                                                 logger="labeling.annotations.agreement"):
        response = api_as(double_labeled["lead"]).get("/api/projects/kcache/agreement/")
    assert response.status_code == 200
    assert response.json()["kappa_ci"] == reachable
    assert "kappa interval computed without the cache" in caplog.text
