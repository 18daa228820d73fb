"""Metadata keys: any key but an empty one is stored as it is, so that an export comes back whole
(a rule refusing keys with a comma or over 100 characters refused the app's own exports of items
that older releases, or the admin, had stored). A key holding a comma can be chosen on the settings
page (one per line); the setting names fields of at most 100 characters."""
import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from labeling.items.models import Item
from labeling.items.services import import_path
from labeling.projects.models import Membership, Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(project_factory):
    return project_factory("metakeys", labels=("billing", "login"), sources=("email",))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_keys_with_a_comma_or_long_names_come_back_from_an_export(project, project_factory, tmp_path, make_user, fmt):
    long_key = "k" * 300
    source = tmp_path / "source.jsonl"
    source.write_text(json.dumps({"text": "hello", "source": "email", "label": "billing",
                                  "region, country": "EU", long_key: "x"}) + "\n")
    assert import_path(project, source).ok
    assert Item.objects.get(project=project).metadata == {"region, country": "EU", long_key: "x"}
    admin = APIClient()
    admin.force_authenticate(make_user("admin37k", superuser=True))
    response = admin.get(f"/api/projects/{project.slug}/export/{fmt}/")
    assert response.status_code == 200
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(b"".join(response.streaming_content))
    again = project_factory("metakeys2", labels=("billing", "login"), sources=("email",))
    result = import_path(again, path)
    assert result.ok, [e.format(path.name) for e in result.errors]
    assert Item.objects.get(project=again).metadata == {"region, country": "EU", long_key: "x"}


def settings_post(client, slug, changes):
    form = client.get(f"/p/{slug}/settings/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and v is not False
            and not isinstance(v, (dict, list))}
    data.update({"mix_rare": "0.4", "mix_uncertainty": "0.3", "mix_diversity": "0.2"})
    data.update(changes)
    return client.post(f"/p/{slug}/settings/", data)


def test_a_key_with_a_comma_is_chosen_on_the_settings_page_one_per_line(project, make_user, tmp_path):
    path = tmp_path / "rows.jsonl"  # the items have the field
    path.write_text(json.dumps({"text": "hello", "source": "email", "region, country": "EU", "tier": "gold"}) + "\n")
    assert import_path(project, path).ok
    lead = make_user("lead37k")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    client = Client()
    client.force_login(lead)
    response = settings_post(client, project.slug, {"annotator_metadata": "region, country\ntier"})
    assert response.status_code == 302, response.context["form"].errors
    assert Project.objects.get(pk=project.pk).annotator_metadata == ["region, country", "tier"]
    assert "region, country\ntier</textarea>" in client.get(f"/p/{project.slug}/settings/").content.decode()
    # One line stays comma-separated, as before.
    response = settings_post(client, project.slug, {"annotator_metadata": "tier, channel"})
    assert response.status_code == 302, response.context["form"].errors
    assert Project.objects.get(pk=project.pk).annotator_metadata == ["tier", "channel"]


def test_a_new_line_below_a_comma_separated_line_adds_a_field(project, make_user, tmp_path):
    """A reader saved "plan, region", then added "customer tier" on a new line, as the caption
    allows: the two fields became one name, "plan, region", that matches nothing. A line is kept
    whole only where it is a field name holding a comma (chosen, or one the items have)."""
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"text": "hello", "source": "email", "region, country": "EU", "plan": "pro"}) + "\n")
    assert import_path(project, path).ok
    lead = make_user("lead37n")
    Membership.objects.create(project=project, user=lead, role=Membership.LEAD)
    client = Client()
    client.force_login(lead)
    assert settings_post(client, project.slug, {"annotator_metadata": "plan, region"}).status_code == 302
    response = settings_post(client, project.slug, {"annotator_metadata": "plan, region\ncustomer tier"})
    assert response.status_code == 302, response.context["form"].errors
    assert Project.objects.get(pk=project.pk).annotator_metadata == ["plan", "region", "customer tier"]
    response = settings_post(client, project.slug, {"annotator_metadata": "region, country\nplan, tier"})
    assert Project.objects.get(pk=project.pk).annotator_metadata == ["region, country", "plan", "tier"]
