"""Eager mode (the demo): a retrain that trained and activated a model, whose planning of the next
wave then failed, says so: the model is served, planning failed, and the wave opened with the new
model on a second try. It said "opened with the current model instead (no retrain; ask for a
retrain again)", as if the retrain had failed. The failure is real: PostgreSQL refuses the first
insert of wave 2 once (SQLSTATE 55P03, a lock error), the second try succeeds. transactional_db:
the refused INSERT aborts the transaction it runs in, which must be the code's own."""
import pytest
from django.db import connection

from labeling.modeling.models import ModelVersion, TaskRun
from labeling.waves.models import Wave
from tests.test_loop_helpers import eager_celery  # noqa: F401 - fixture
from tests.test_round35_demo_failed_retrain import complete_first_wave

REFUSE = "longtail_test_refuse_wave_two_once"


@pytest.fixture
def second_wave_refused_once(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("the refusing trigger is PL/pgSQL")
    table = connection.ops.quote_name(Wave._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SEQUENCE {REFUSE}_seq")
        cursor.execute(f"""CREATE FUNCTION {REFUSE}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.number = 2 AND nextval('{REFUSE}_seq') = 1 THEN
                RAISE EXCEPTION 'could not obtain lock on the waves' USING ERRCODE = '55P03';
              END IF;
              RETURN NEW;
            END $$""")
        cursor.execute(f"CREATE TRIGGER {REFUSE} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {REFUSE}()")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER IF EXISTS {REFUSE} ON {table}")
        cursor.execute(f"DROP FUNCTION IF EXISTS {REFUSE}()")
        cursor.execute(f"DROP SEQUENCE IF EXISTS {REFUSE}_seq")


def test_planning_that_fails_after_a_good_retrain_says_the_retrain_succeeded(
        second_wave_refused_once, project_factory, eager_celery, settings, make_user):  # noqa: F811
    settings.CELERY_TASK_ALWAYS_EAGER = True
    project, _ = complete_first_wave(project_factory, make_user, "eagerplan")

    run = TaskRun.objects.get(project=project, kind="retrain")
    version = ModelVersion.objects.get(project=project)
    assert version.state == ModelVersion.ACTIVE and run.detail["model_version_id"] == version.pk
    second = Wave.objects.get(project=project, state=Wave.OPEN)
    assert second.number == 2 and second.model_version_id == version.pk
    assert run.state == TaskRun.FAILED and run.detail.get("fallback_wave") == 2
    assert "no retrain" not in run.message and "ask for a retrain" not in run.message, run.message
    assert run.message.startswith(
        f"The retrain succeeded (model v{version.number} trained and activated) but planning the next wave failed; wave 2 was "
        f"opened with v{version.number} on a second try. Planning failed: OperationalError: could not obtain lock "
        "on the waves"), run.message
