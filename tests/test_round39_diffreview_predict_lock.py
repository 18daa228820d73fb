"""The predict API answers a text it has embedded before without waiting for the project's row lock.

Since each predict records the texts it embeds as the project's own (EmbeddingUse), every call, also
one whose vectors are all cached, share-locks the project row (FOR KEY SHARE) and inserts its uses.
That lock waits for any FOR UPDATE on the project: a wave being planned (plan_next_wave, the
retrain's planning step, which holds it while it matches rules and draws the wave), a model being
activated, a settings save. Before, a cached predict read the cache and touched no project row.

Real PostgreSQL, two connections: one holds the project's row lock as a plan holds it while the
other asks for predictions of a text the project already predicted."""
import threading
import time

import pytest
from rest_framework.test import APIClient

from tests import test_loop_helpers as helpers

pytestmark = pytest.mark.django_db(transaction=True)

HOLD_S = 4.0


def test_a_repeated_predict_does_not_wait_for_a_plan_holding_the_project_lock(project_factory, make_user):
    from django.db import connection, transaction

    from labeling.items.models import Item
    from labeling.modeling import versions
    from labeling.projects.models import Membership, Project

    project, _ = helpers.build_project(project_factory, slug="predictlock", n_items=120, n_labeled=60)
    versions.activate_version(versions.train_version(project))
    lead = make_user("lead")
    Membership.objects.create(user=lead, project=project, role=Membership.LEAD)
    text = Item.objects.filter(project=project).order_by("pk").values_list("text", flat=True).first()
    url = f"/api/projects/{project.slug}/predict/"

    api = APIClient()
    api.force_authenticate(lead)
    first = api.post(url, {"texts": [text]}, format="json")
    assert first.status_code == 200, first.content  # the text's vector is cached and its use recorded

    locked, release = threading.Event(), threading.Event()

    def plan_holding_the_lock():
        try:
            with transaction.atomic():
                # what plan_next_wave / finish_retrain / activate_version hold while they work
                Project.objects.select_for_update().get(pk=project.pk)
                locked.set()
                release.wait(HOLD_S)
        finally:
            connection.close()

    outcome = {}

    def predict_again():
        try:
            client = APIClient()
            client.force_authenticate(lead)
            started = time.monotonic()
            response = client.post(url, {"texts": [text]}, format="json")
            outcome["status"], outcome["seconds"] = response.status_code, time.monotonic() - started
        finally:
            connection.close()

    holder = threading.Thread(target=plan_holding_the_lock)
    holder.start()
    assert locked.wait(10)
    caller = threading.Thread(target=predict_again)
    caller.start()
    caller.join(HOLD_S / 2)
    answered_while_locked = not caller.is_alive()
    release.set()
    holder.join(10)
    caller.join(10)
    assert outcome.get("status") == 200, outcome
    assert answered_while_locked, (
        f"a predict of an already-embedded text waited {outcome['seconds']:.1f} s for the project's row lock "
        "(held by a plan / an activation / a settings save)")
