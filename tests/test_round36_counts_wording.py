"""Two figures whose meaning the pages now state. The item browser's wave filter is "ever picked in
wave N" (its meaning is kept: an item answered in wave 1, cleared and answered again in wave 3 is
labeled under both), and wave progress counts items whose every needed answer is in, a skip being
an answer. Answers go through the real leasing, answer, clear and close services."""
import html
import re
import uuid

import pytest

from labeling.annotations import history, leasing
from labeling.projects.models import Membership
from labeling.waves.models import Wave, WaveItem
from labeling.waves.services import close_wave

from .test_annotation_helpers import add_member, answer, api_as, make_open_wave

pytestmark = pytest.mark.django_db

DONE_MEANS = "done: every answer it needs is in, skips included"


def text(page: bytes) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.decode())).split())


@pytest.fixture
def relabeled(project_factory, make_user):
    """Item X answered in wave 1, wave 1 closed, the answer cleared, X picked by wave 3 and answered
    there; wave 3 also holds a new item ann skipped and one nobody answered yet."""
    project = project_factory("wav36", labels=("billing", "login"))
    ann = add_member(make_user, project, "ann")
    lead = add_member(make_user, project, "lea", role=Membership.LEAD)
    wave1, (x,) = make_open_wave(project, 1, number=1)
    billing = project.labels.get(name="billing")
    first = answer(project, ann, leasing.lease_batch(project, ann, size=1).assignments[0], billing).annotation
    close_wave(wave1)
    history.change_answer(project, ann, client_id=uuid.uuid4(), supersedes=first.pk, clear=True)
    wave3, (skipped, waiting) = make_open_wave(project, 2, number=3, shuffle=False)
    for position, item in enumerate((skipped, waiting), start=1):  # X first in the batch, waiting last
        WaveItem.objects.filter(wave=wave3, item=item).update(position=position)
    WaveItem.objects.create(wave=wave3, item=x, strategy="random", overlap=1, batch_number=0, position=0)
    held = {a.wave_item.item_id: a for a in leasing.lease_batch(project, ann, size=2).assignments}
    answer(project, ann, held[x.pk], billing)
    answer(project, ann, held[skipped.pk], None, skipped=True, skip_reason="unclear")
    assert Wave.objects.get(pk=wave3.pk).state == Wave.OPEN
    return project, lead, x


def test_the_wave_filter_keeps_meaning_ever_picked(relabeled):
    project, lead, x = relabeled
    client = api_as(lead)
    for wave in (1, 3):
        rows = client.get("/api/projects/wav36/items/", {"wave": wave, "state": "labeled"}).json()["results"]
        assert x.pk in {row["id"] for row in rows}, wave


def test_the_browser_and_the_schema_say_ever_picked(client, relabeled):
    project, lead, x = relabeled
    client.force_login(lead)
    page = text(client.get("/p/wav36/items/", {"wave": 1, "state": "labeled"}).content)
    assert "Ever picked in wave" in page
    assert "the state is each item's state now, not in that wave" in page
    schema = api_as(lead).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    wave = next(p for p in schema["paths"]["/api/projects/{slug}/items/"]["get"]["parameters"] if p["name"] == "wave")
    assert "ever picked" in wave["description"]


def test_wave_progress_says_what_done_means(client, relabeled):
    project, lead, x = relabeled
    client.force_login(lead)
    # X answered and the skipped item: both done, the waiting item not.
    waves = text(client.get("/p/wav36/waves/").content)
    assert f"2 of 3 items done ({DONE_MEANS})" in waves
    overview = text(client.get("/p/wav36/").content)
    assert f"2 of 3 items done ({DONE_MEANS})" in overview
