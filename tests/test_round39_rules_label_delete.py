"""Deleting a label takes its rules with it (Rule.label is on_delete=CASCADE), and the lead is not
told: the labels page says "Labels saved." and the API answers 204, while the keyword and regex rules
the lead wrote for that label are gone for good (no rule lists them, nothing brings them back). A label
with answers is refused as "in use" with counts; a label with rules goes without a word about them."""
import pytest

from labeling.projects.models import Label, Membership, Rule

from .test_annotation_helpers import add_member, api_as
from .test_browse_pages import client_for
from .test_label_rules_other import labels_page_post

pytestmark = pytest.mark.django_db


def test_deleting_a_label_on_the_labels_page_says_its_rules_go_with_it(project_factory, make_user):
    project = project_factory("labdel")
    lead = add_member(make_user, project, "lena", role=Membership.LEAD)
    fraud = project.labels.get(name="fraud")
    api = api_as(lead)
    for kind, pattern in (("keyword", "chargeback"), ("regex", r"card (was )?stolen")):
        assert api.post("/api/projects/labdel/rules/", {"label": fraud.pk, "kind": kind, "pattern": pattern},
                        format="json").status_code == 201

    data = labels_page_post(project, {})
    index = list(project.labels.order_by("order", "name")).index(fraud)
    data[f"labels-{index}-DELETE"] = "on"
    reply = client_for(lead).post("/p/labdel/settings/labels/", data, follow=True)
    assert reply.status_code == 200
    assert not Label.objects.filter(pk=fraud.pk).exists()
    assert not Rule.objects.filter(project=project).exists()  # both rules went with the label
    shown = " ".join(str(m) for m in reply.context["messages"])
    # today: "Labels saved." and nothing about the two rules deleted with the label
    assert "rule" in shown.lower(), shown
