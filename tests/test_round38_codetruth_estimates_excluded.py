"""docs/loop.md, "Excluded items": "... the estimates read the waves' draws restricted to the items not
excluded". The estimates' sample (labeling/projects/estimates.py _sample) reads every pick of an open
or closed wave with a known inclusion probability, excluded items included: an item a lead excludes
after its wave closed (junk, out of scope) stays a draw of the per-label pool estimates, while the
pool they speak for (``pool_items``, IN_POOL) leaves excluded items out."""
import pytest
from rest_framework.test import APIClient

from labeling.modeling.models import ModelVersion
from labeling.projects.estimates import version_estimates
from labeling.waves.models import Wave

from .test_annotation_helpers import make_open_wave

pytestmark = pytest.mark.django_db


def test_an_excluded_item_leaves_the_estimates_sample(world):
    project = world["alpha"]
    version = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.READY,
                                          label_map=["billing", "login", "fraud"])
    wave, items = make_open_wave(project, 3, number=2, state=Wave.CLOSED, shuffle=False)
    Wave.objects.filter(pk=wave.pk).update(model_version=version)
    assert version_estimates(project)[1]["sample"]["drawn"] == 3

    api = APIClient()
    api.force_authenticate(world["lead"])
    reply = api.post("/api/projects/alpha/items/bulk/", {"action": "exclude", "items": [items[0].pk]}, format="json")
    assert reply.status_code == 200, reply.content
    # today: still 3 draws, the excluded item's pick among them
    assert version_estimates(project)[1]["sample"]["drawn"] == 2
