"""Eager mode (the demo: no broker, the retrain runs inside the request whose answer completed the
wave): a retrain that fails in-process says so truthfully ("Retrain failed: ...", not "Could not
queue the work (is the broker up?)"), stays failed, and the next wave opens with the current model,
as it does when the broker is down. The failure is real: PostgreSQL refuses every new model version
with a lock error (SQLSTATE 55P03, an OperationalError, as SQLite's "database is locked" is), so
the training step retries and gives up. transactional_db: the refused INSERT aborts the transaction
it runs in, which must be the code's own, not a test-wide one."""
import pytest
from django.db import connection

from labeling.loop.pipeline import plan_first_wave
from labeling.loop.triggers import request_retrain
from labeling.modeling.models import ModelVersion, TaskRun
from labeling.projects.models import Membership
from labeling.waves.models import Wave
from tests.test_annotation_helpers import add_member, api_as
from tests.test_loop_helpers import answer, build_project, eager_celery  # noqa: F401 - fixture

REFUSE = "longtail_test_refuse_model_version"


def complete_first_wave(project_factory, make_user, slug):
    """A small project whose first wave one annotator answers in full: the last answer completes the
    wave and, in eager mode, runs its retrain inside that request. Returns the project and the wave."""
    project, truth = build_project(project_factory, slug=slug, n_items=120, n_labeled=40, wave_size=8,
                                   batch_size=8, double_label_share=0.0, overlap=1)
    first = plan_first_wave(project)
    labels = {label.name: label for label in project.labels.all()}
    alice = make_user("alice")
    for pick in first.picks.select_related("item"):
        answer(project, pick.item, labels[truth[pick.item_id]], alice)
    return project, first


@pytest.fixture
def versions_refused(transactional_db):
    table = connection.ops.quote_name(ModelVersion._meta.db_table)
    if connection.vendor != "postgresql":
        pytest.skip("the refusing trigger is PL/pgSQL")
    with connection.cursor() as cursor:
        cursor.execute(f"""CREATE FUNCTION {REFUSE}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'could not obtain lock on the model versions' USING ERRCODE = '55P03'; END $$""")
        cursor.execute(f"CREATE TRIGGER {REFUSE} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {REFUSE}()")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER IF EXISTS {REFUSE} ON {table}")
        cursor.execute(f"DROP FUNCTION IF EXISTS {REFUSE}()")


def test_a_failed_in_process_retrain_says_why_and_the_next_wave_opens(
        versions_refused, project_factory, eager_celery, settings, make_user):  # noqa: F811
    settings.CELERY_TASK_ALWAYS_EAGER = True
    project, first = complete_first_wave(project_factory, make_user, "eagerfail")

    first.refresh_from_db()
    assert first.state == Wave.CLOSED
    run = TaskRun.objects.get(project=project, kind="retrain")
    assert run.state == TaskRun.FAILED and run.detail["reason"] == "wave_complete"
    assert "Retrain failed: OperationalError: could not obtain lock on the model versions" in run.message, run.message
    assert "Could not queue" not in run.message and "broker" not in run.message, run.message
    assert not ModelVersion.objects.filter(project=project).exists()
    # annotators keep working: the next wave is open, planned with the current model, and the run says so
    second = Wave.objects.get(project=project, state=Wave.OPEN)
    assert second.number == 2 and second.size > 0
    assert run.detail.get("fallback_wave") == 2
    assert run.message.startswith("Wave 2 was opened with the current model instead (no retrain; ask for a retrain"), \
        run.message

    # A lead's retrain request fails the same truthful way (the pages say "Retrain failed (task N): ...").
    manual = request_retrain(project, reason="manual")
    manual.refresh_from_db()
    assert manual.state == TaskRun.FAILED and manual.message.startswith("Retrain failed: OperationalError"), \
        manual.message
    assert Wave.objects.filter(project=project, state=Wave.OPEN).count() == 1

    # Through the API the failure is said once: "Retrain failed (task N): OperationalError: ...".
    lead = add_member(make_user, project, "lea", role=Membership.LEAD)
    reply = api_as(lead).post(f"/api/projects/{project.slug}/models/retrain/", {}, format="json")
    assert reply.status_code == 503, reply.content
    assert reply.json()["detail"].startswith("Retrain failed (task "), reply.json()
    assert reply.json()["detail"].count("Retrain failed") == 1, reply.json()
