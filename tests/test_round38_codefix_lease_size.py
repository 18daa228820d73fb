"""POST batches/ `size`: the one limit is the project's batch size (the help: "at most the project's
batch size (400 beyond it)"); past it, however large, a 400 that names the field, never a 500."""
import pytest

from labeling.projects.models import Membership

from .test_annotation_helpers import add_member, api_as, make_open_wave

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("size", [801, 10**20])
def test_a_size_beyond_the_batch_size_is_refused_on_the_field(project_factory, make_user, size):
    project = project_factory("overbatch", labels=("positive", "negative"))
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    ann = add_member(make_user, project, "ann")
    assert api_as(lead).patch("/api/projects/overbatch/", {"wave_size": 1000, "batch_size": 800},
                              format="json").status_code == 200
    make_open_wave(project, 5, batch_size=800, shuffle=False)
    reply = api_as(ann).post("/api/projects/overbatch/batches/", {"size": size}, format="json")
    assert reply.status_code == 400, reply.content
    assert reply.json()["field"] == "size" and "at most the project's batch size (800)" in reply.json()["detail"]
