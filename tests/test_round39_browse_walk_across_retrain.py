"""Walking the item browser's confidence order page by page while a retrain activates a new model
(every N labels, while annotators work): each item is listed once, none is skipped."""
import pytest
from rest_framework.test import APIClient

from labeling.modeling.models import ModelVersion
from labeling.modeling.versions import activate_version

from .test_browse_helpers import make_item, score

pytestmark = pytest.mark.django_db


def test_confidence_walk_across_a_retrain_lists_each_item_once(world):
    project = world["alpha"]
    email = project.sources.get(name="email")
    items = [make_item(project, f"ticket number {i}", source=email) for i in range(60)]
    v1 = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE,
                                     label_map=["billing", "fraud", "login"])
    v2 = ModelVersion.objects.create(project=project, number=2, state=ModelVersion.READY,
                                     label_map=["billing", "fraud", "login"])
    for i, item in enumerate(items):
        score(item, v1, 0, 0.35 + i / 100)  # v1: the newest items most confident
        score(item, v2, 0, 0.95 - i / 100)  # v2 (the retrain) sees it the other way round
    client = APIClient()
    client.force_authenticate(world["lead"])
    url, params, seen = "/api/projects/alpha/items/", {"sort": "confidence_desc", "page_size": 20}, []
    first = client.get(url, params).json()
    seen += [row["id"] for row in first["results"]]
    activate_version(v2)  # the retrain finishes while the lead reads page 1
    url = first["next"]
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    repeated = sorted({i for i in seen if seen.count(i) > 1})
    missing = sorted({item.id for item in items} - set(seen))
    assert not repeated and not missing, f"listed twice: {len(repeated)}, never listed: {len(missing)}"
