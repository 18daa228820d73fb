"""The project overview's item counts against the item browser's filters they name: a lead who reads
"N skipped by everyone" (its tooltip: "the item browser's state filter: skipped") and opens that filter
must find N items."""
import re

import pytest
from rest_framework.test import APIClient

from labeling.annotations.models import Annotation

from .test_browse_helpers import answer_row, make_item

pytestmark = pytest.mark.django_db


def browser_count(world, **params):
    client = APIClient()
    client.force_authenticate(world["lead"])
    body = client.get("/api/projects/alpha/items/", {**params, "count": "true"}).json()
    return body["count"]


def test_overview_skipped_matches_the_browser_filter_it_names(world, client):
    project = world["alpha"]
    chat = project.sources.get(name="chat")
    billing = project.labels.get(name="billing")
    for i in range(3):  # skipped by everyone, still in the project's pool of work
        answer_row(project, make_item(project, f"unreadable {i}", source=chat), None, world["annotator"],
                   skipped=True, reason="unclear")
    for i in range(2):  # skipped, then excluded by a lead as junk
        answer_row(project, make_item(project, f"junk {i}", source=chat, excluded=True), None, world["annotator"],
                   skipped=True, reason="junk")
    answer_row(project, make_item(project, "labeled one", source=chat), billing, world["annotator"],
               origin=Annotation.ANNOTATOR)
    client.force_login(world["lead"])
    html = client.get("/p/alpha/").content.decode()
    shown = int(re.search(r'id="overview-skipped"[^>]*>(\d+) skipped by everyone', html).group(1))
    title = re.search(r'id="overview-skipped" title="([^"]*)"', html).group(1)
    # The filter the tooltip names (with "not excluded" / "excluded: no" spelled out, the browser's excluded=false).
    named = {"state": "skipped"}
    if "not excluded" in title or "excluded: no" in title:
        named["excluded"] = "false"
    assert shown == browser_count(world, **named), (shown, title)
