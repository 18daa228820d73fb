"""Predictions queued for review become pool items under the source "api" when the project allows
new sources (services.queue_predictions_for_review). A project whose lead already has a source
"API" (the sources pages refuse "api" beside it: "look alike", and so does an import) gets a second
source "api" created beside it by get_or_create, past the name rules: the channel is split in two,
quotas, filters and estimates counting them apart."""
import pytest

from labeling.items.models import Item
from labeling.projects.models import Source
from labeling.projects.services import replace_sources
from tests.test_predict import _force_review, api_as, trained, world  # noqa: F401 (fixtures)
from tests.test_round37_fix_predict_blank import _pool_with_room

pytestmark = pytest.mark.django_db


def test_queued_predictions_use_the_projects_api_source_not_a_look_alike(world, trained):  # noqa: F811
    alpha = world["alpha"]
    _force_review(trained)  # every prediction is doubtful: each text is queued
    _pool_with_room(alpha, trained)
    alpha.allow_new_sources = True
    alpha.save()
    replace_sources(alpha, [{"id": s.pk, "name": "API" if s.name == "chat" else s.name, "quota": s.quota}
                            for s in alpha.sources.order_by("pk")])
    response = api_as(world["lead"]).post("/api/projects/alpha/predict/", {
        "texts": ["my gym card was charged by someone else"], "queue_for_review": True}, format="json")
    assert response.status_code == 200, response.json()
    row = response.json()["results"][0]
    assert row["queued_for_review"], row["review_note"]
    names = sorted(Source.objects.filter(project=alpha).values_list("name", flat=True))
    item = Item.objects.get(pk=row["queued_item"])
    assert names == ["API", "email"], (f"queueing a prediction created a source beside “API”: sources now {names}, "
                                       f"the item went to “{item.source.name}”")
