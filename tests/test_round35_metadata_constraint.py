"""Every write keeps an item's metadata a JSON object: the database refuses anything else (CHECK
constraint item_metadata_is_object, on PostgreSQL and SQLite alike), a model save refuses it first
naming the field, and no metadata (None) is saved as {}. Before, an update, a bulk insert or a save
stored a list or a text, which the CSV export then wrote as empty metadata columns (lost on a
round trip)."""
import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from labeling.items.models import Item

pytestmark = pytest.mark.django_db
NOT_OBJECTS = [["x", "y"], "a note", 7, True]


@pytest.fixture
def project(project_factory):
    return project_factory("meta-check", labels=("praise",), sources=("email",))


def _item(project, text="hello", **fields):
    return Item(project=project, text=text, text_hash=text.ljust(64, "0")[:64], **fields)


@pytest.mark.parametrize("value", NOT_OBJECTS)
def test_the_database_refuses_an_update_or_insert_of_metadata_that_is_not_an_object(project, value):
    item = _item(project, metadata={"k": "v"})
    item.save()
    with pytest.raises(IntegrityError, match="item_metadata_is_object"), transaction.atomic():
        Item.objects.filter(pk=item.pk).update(metadata=value)
    with pytest.raises(IntegrityError, match="item_metadata_is_object"), transaction.atomic():
        Item.objects.bulk_create([_item(project, "bulk", metadata=value)])
    assert list(Item.objects.filter(project=project).values_list("metadata", flat=True)) == [{"k": "v"}]


@pytest.mark.parametrize(("value", "kind"), [(["x"], "list"), ("a note", "text"), (7, "number"),
                                             (False, "true/false value")])
def test_a_model_save_or_full_clean_refuses_it_naming_the_field(project, value, kind):
    item = _item(project, metadata=value)
    with pytest.raises(ValidationError) as refused:
        item.save()
    assert refused.value.message_dict == {"metadata": [
        'Metadata must be a JSON object of named fields, such as {"channel": "web"}, or empty for none; '
        f"got a JSON {kind}."]}
    with pytest.raises(ValidationError) as refused:
        item.full_clean()
    assert list(refused.value.message_dict) == ["metadata"]
    assert not Item.objects.filter(project=project).exists()


def test_no_metadata_is_saved_as_an_empty_object_and_objects_pass_the_constraint_check(project):
    item = _item(project, metadata=None)
    item.save()
    item.refresh_from_db()
    assert item.metadata == {}
    item.metadata = {"nested": {"list": [1, 2]}, "n": -2}
    item.full_clean()  # runs the CHECK constraint's condition in the database too (validate_constraints)
    item.save()
    item.refresh_from_db()
    assert item.metadata == {"nested": {"list": [1, 2]}, "n": -2}
