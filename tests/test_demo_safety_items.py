"""setup_demo --items out of range is refused with a message, before anything is written."""
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from labeling.items.demo_data import create_demo_project
from labeling.items.models import ImportBatch, Item
from labeling.projects.models import Label, Project


def nothing_written() -> bool:
    return not any(model.objects.exists() for model in (get_user_model(), Project, Label, Item, ImportBatch))


@pytest.mark.parametrize("items, shown", [("0", "0"), ("-5", "-5"), ("100001", "100,001")])
def test_setup_demo_refuses_items_out_of_range(db, capsys, items, shown):
    with pytest.raises(CommandError) as caught:
        call_command("setup_demo", "--items", items, "--slug", "demo-items")
    assert str(caught.value) == f"--items must be a whole number from 1 to 100,000; got {shown}."
    assert nothing_written()
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("n_items", [0, -5])
def test_create_demo_project_refuses_no_items_before_writing(db, n_items):
    with pytest.raises(ValueError, match=rf"^n_items must be a whole number from 1 to 100,000; got {n_items}\.$"):
        create_demo_project(slug="demo-items", n_items=n_items)
    assert nothing_written()
