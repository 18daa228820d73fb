"""The export's yes/no parameters take the spellings the item filters take (true/false/True/False/1/0)
and refuse anything else with 400 naming the parameter: neutralise_formulas=fasle exported with the
formulas neutralised and include_duplicates=ture without the duplicates, as if nothing was asked."""
import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_api(world):
    client = APIClient()
    client.force_authenticate(world["lead"])
    return client


@pytest.mark.parametrize("name,value", [
    ("neutralise_formulas", "fasle"), ("include_duplicates", "ture"), ("neutralise_formulas", "False "),
    ("include_duplicates", "yes please"),
])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_misspelt_flag_is_refused_naming_it(lead_api, fmt, name, value):
    reply = lead_api.get(f"/api/projects/alpha/export/{fmt}/", {name: value})
    assert reply.status_code == 400
    message = reply.json()[name][0]
    assert name in message and repr(value) in message
    for spelling in ("true", "false", "True", "False", "1", "0"):
        assert spelling in message


@pytest.mark.parametrize("value", ["true", "True", "1", "false", "False", "0", ""])
def test_every_accepted_spelling_downloads(lead_api, value):
    reply = lead_api.get("/api/projects/alpha/export/csv/", {"neutralise_formulas": value, "include_duplicates": value})
    assert reply.status_code == 200


def test_export_page_download_refuses_too(world, client):
    client.force_login(world["lead"])
    reply = client.get("/p/alpha/export/labels.csv?include_duplicates=ture")
    assert reply.status_code == 400
    assert reply["Content-Type"].startswith("text/plain")
    assert "include_duplicates" in reply.content.decode()
    # What the page's own links send still works.
    assert client.get("/p/alpha/export/labels.csv?include_duplicates=1&neutralise_formulas=0").status_code == 200
