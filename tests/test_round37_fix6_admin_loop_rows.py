"""The admin keeps the loop's rules (docs/operations.md, "The Django admin"): waves, their picks,
model versions, task runs, review tasks and imports are written by the product's own paths only,
so a superuser sees them read-only. Before, the admin added a second open wave (the waves page then
showed an empty wave 4 while annotators got items from wave 2), set a planned wave to open past the
API's 409, and added picks, versions, runs, review tasks and imports by hand. Rows deleted along with
what they belong to (an item) still go on that deletion's page."""
import pytest
from django.urls import reverse

from labeling.annotations.models import ReviewTask
from labeling.items.models import ImportBatch, Item
from labeling.modeling.models import ModelVersion, TaskRun
from labeling.waves.models import Wave, WaveItem
from learner.text import text_hash

pytestmark = pytest.mark.django_db

LOOP_MODELS = [Wave, WaveItem, ModelVersion, TaskRun, ReviewTask, ImportBatch]


def admin_url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


@pytest.fixture
def loop_rows(make_user, project_factory, postgres_only, client):
    project = project_factory("alpha")
    root = make_user("root", superuser=True)
    client.force_login(root)
    source = project.sources.first()
    item = Item.objects.create(project=project, source=source, text="card stolen", text_hash=text_hash("card stolen"))
    open_wave = Wave.objects.create(project=project, number=1, state=Wave.OPEN, size=1, cold_start=True)
    planned = Wave.objects.create(project=project, number=2, state=Wave.PLANNED, size=0)
    pick = WaveItem.objects.create(wave=open_wave, item=item, strategy="random", inclusion_prob=0.5, position=0)
    rows = {
        Wave: planned, WaveItem: pick,
        ModelVersion: ModelVersion.objects.create(project=project, number=1, state=ModelVersion.READY),
        TaskRun: TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.DONE, message="Done."),
        ReviewTask: ReviewTask.objects.create(project=project, item=item, reason="disagreement"),
        ImportBatch: ImportBatch.objects.create(project=project, filename="t.csv", state=ImportBatch.DONE),
    }
    return {"project": project, "item": item, "open": open_wave, "planned": planned, "rows": rows}


@pytest.mark.parametrize("model", LOOP_MODELS, ids=lambda m: m.__name__)
def test_no_add_page_and_rows_are_view_only(client, loop_rows, model):
    assert client.get(admin_url(model, "add")).status_code == 403
    row = loop_rows["rows"][model]
    assert client.get(admin_url(model, "changelist")).status_code == 200
    page = client.get(admin_url(model, "change", row.pk))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.get(admin_url(model, "delete", row.pk)).status_code == 403
    assert client.post(admin_url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=row.pk).exists()


def test_a_second_open_wave_cannot_be_added(client, loop_rows):
    project = loop_rows["project"]
    answer = client.post(admin_url(Wave, "add"), {"project": project.pk, "number": 4, "state": Wave.OPEN,
                                                  "size": 50, "report": "{}"})
    assert answer.status_code == 403
    assert list(Wave.objects.filter(project=project, state=Wave.OPEN).values_list("number", flat=True)) == [1]


def test_a_planned_wave_cannot_be_set_open(client, loop_rows):
    planned = loop_rows["planned"]
    answer = client.post(admin_url(Wave, "change", planned.pk),
                         {"project": loop_rows["project"].pk, "number": 2, "state": Wave.OPEN, "size": 0,
                          "report": "{}"})
    assert answer.status_code == 403
    planned.refresh_from_db()
    assert planned.state == Wave.PLANNED


def test_deleting_an_item_still_takes_its_picks_and_review_tasks(client, loop_rows):
    item = loop_rows["item"]
    page = client.get(admin_url(Item, "delete", item.pk))
    assert page.status_code == 200 and "Yes, I’m sure" in page.content.decode()
    assert client.post(admin_url(Item, "delete", item.pk), {"post": "yes"}).status_code == 302
    assert not Item.objects.filter(pk=item.pk).exists()
    assert not WaveItem.objects.filter(item_id=item.pk).exists() and not ReviewTask.objects.filter(item_id=item.pk).exists()
