"""POST batches/ documents `size` as "Items to lease, at most the project's batch size (400 beyond
it); default: the batch size", and the view refuses only size > batch_size. The serializer also caps
it at 500 (max_value=500), a second limit that contradicts the first: a project may have a batch
size of 800 (PATCH allows any batch size up to the wave size), and then size=600 is refused with
DRF's "Ensure this value is less than or equal to 500." while leaving size out leases 800."""
import pytest

from labeling.projects.models import Membership

from .test_annotation_helpers import add_member, api_as, make_open_wave

pytestmark = pytest.mark.django_db


def test_a_size_within_the_batch_size_is_accepted(project_factory, make_user):
    project = project_factory("bigbatch", labels=("positive", "negative"))
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    ann = add_member(make_user, project, "ann")
    patched = api_as(lead).patch("/api/projects/bigbatch/", {"wave_size": 1000, "batch_size": 800}, format="json")
    assert patched.status_code == 200, patched.content
    make_open_wave(project, 700, batch_size=800, shuffle=False)
    reply = api_as(ann).post("/api/projects/bigbatch/batches/", {"size": 600}, format="json")
    # today: 400 {"size": ["Ensure this value is less than or equal to 500."]}
    assert reply.status_code == 200, reply.content
    assert len(reply.json()["items"]) == 600
