"""The rules page creates a rule with an "Enabled" box and lists each rule's "Enabled: yes/no", but
offers no way to enable, disable or edit a stored rule: its only per-rule control is Delete. A lead who
saves a rule unticked (to try it later) cannot turn it on from the page; the API's PATCH is the only way
(and a keyword rule's delete-and-re-add loses nothing only because it has no other state)."""
import re

import pytest

from labeling.projects.models import Membership, Rule

from .test_annotation_helpers import add_member
from .test_browse_pages import client_for

pytestmark = pytest.mark.django_db


def test_a_rule_saved_disabled_on_the_page_can_be_enabled_on_the_page(project_factory, make_user):
    project = project_factory("toggle")
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    page = client_for(lead)
    fraud = project.labels.get(name="fraud")
    reply = page.post("/p/toggle/settings/rules/", {"label": fraud.pk, "kind": "keyword", "pattern": "chargeback"})
    assert reply.status_code == 302  # saved, the Enabled box left unticked
    rule = Rule.objects.get(project=project)
    assert rule.enabled is False

    html = page.get("/p/toggle/settings/rules/").content.decode()
    actions = re.findall(r'<form[^>]*action="([^"]*)"', html)
    per_rule = [a for a in actions if f"/rules/{rule.pk}/" in a and not a.endswith("/delete/")]
    # today: the only form for the rule is /p/toggle/settings/rules/<id>/delete/
    assert per_rule, actions
