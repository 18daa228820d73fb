"""A rule stored before the program-size cap (or under a higher one) can still be disabled or moved to
another label: only a new or changed pattern is judged. Before, every save of such a rule was refused
with the cap's message, so turning a slow rule off (what the highlights' note asks a lead to do) was
impossible through the API and the admin."""
import pytest
from django.test import Client

from labeling.projects.models import Rule
from tests.test_annotation_helpers import api_as

pytestmark = pytest.mark.django_db

FREEZE = ".{0,1000}.{0,1000}.{0,1000}z"


@pytest.fixture
def slow_rule(world):
    billing = world["alpha"].labels.get(name="billing")
    return Rule.objects.create(project=world["alpha"], label=billing, kind=Rule.REGEX, pattern=FREEZE)


def test_the_api_disables_and_relabels_a_rule_over_the_cap(world, slow_rule):
    api = api_as(world["lead"])
    r = api.patch(f"/api/projects/alpha/rules/{slow_rule.pk}/", {"enabled": False}, format="json")
    assert r.status_code == 200, r.content
    login = world["alpha"].labels.get(name="login")
    r = api.patch(f"/api/projects/alpha/rules/{slow_rule.pk}/", {"label": login.pk}, format="json")
    assert r.status_code == 200, r.content
    slow_rule.refresh_from_db()
    assert (slow_rule.enabled, slow_rule.label_id, slow_rule.pattern) == (False, login.pk, FREEZE)
    # A changed pattern is judged: still over the cap, refused.
    r = api.patch(f"/api/projects/alpha/rules/{slow_rule.pk}/", {"pattern": FREEZE + "z"}, format="json")
    assert r.status_code == 400 and "LONGTAIL_RULE_MAX_PROGRAM_SIZE" in r.json()["pattern"][0]
    assert Rule.objects.get(pk=slow_rule.pk).pattern == FREEZE


def test_the_admin_disables_a_rule_over_the_cap(world, slow_rule, admin_user):
    client = Client()
    client.force_login(admin_user)
    url = f"/admin/projects/rule/{slow_rule.pk}/change/"
    r = client.post(url, {"project": slow_rule.project_id, "label": slow_rule.label_id, "kind": Rule.REGEX,
                          "pattern": FREEZE})  # "enabled" left out: unticked
    assert r.status_code == 302, r.content.decode()[:2000]
    assert Rule.objects.get(pk=slow_rule.pk).enabled is False
