"""An item a lead excluded while an annotator held it (the wave's notes: "1 excluded item kept for
the answers already given or leased"), then deleted in the Django admin: today's change says it
deleted and shrinks the size, but the earlier note stays, so the wave says of the same item that it
is kept for its answers and that it was deleted with them (size 1, notes counting 2 items)."""
import uuid

import pytest

from labeling.annotations import leasing, services
from labeling.items import bulk
from labeling.projects.models import Membership
from labeling.projects.selectors import wave_notes

from .test_annotation_helpers import add_member, make_open_wave

pytestmark = pytest.mark.django_db


def test_an_excluded_held_item_deleted_is_not_still_said_kept(project_factory, make_user, client,
                                                              django_capture_on_commit_callbacks):
    project = project_factory("rv1exdel")
    project.batch_size = 2
    project.save()
    wave, _ = make_open_wave(project, 2)
    ann = add_member(make_user, project, "rv1exann")
    lead = add_member(make_user, project, "rv1exlead", role=Membership.LEAD)
    first, second = leasing.lease_batch(project, ann).assignments
    services.submit_answer(project, ann, client_id=uuid.uuid4(), assignment_id=first.pk,
                           label_id=project.labels.first().pk)
    with django_capture_on_commit_callbacks(execute=True):
        bulk.apply(project, "exclude", [second.wave_item.item_id], lead)
    client.force_login(make_user("rv1exroot", superuser=True))
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/admin/items/item/", {"action": "delete_selected", "post": "yes",
                                                  "_selected_action": [str(second.wave_item.item_id)]}).status_code == 302
    wave.refresh_from_db()
    notes = wave_notes(wave.report)
    assert "1 item deleted, with its answers and leases" in notes
    assert not any("kept for the answers" in note for note in notes), (wave.size, notes)
