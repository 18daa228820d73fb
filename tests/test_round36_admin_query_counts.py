"""The admin's deletion checks cost a fixed number of queries, however many rows are ticked.

* Deleting memberships asks last_lead's keep-a-lead check (the users' deletion asks the same one):
  the leads of every project concerned are read at once, not one project at a time; a project left
  without a lead is still refused with the same words, and on a POST the leads stay locked per
  project as before.
* Deleting labels in use (the label list's "delete selected", the project page's ticked label rows)
  says why with the product's message, counted for all the labels in one query: before, up to four
  queries per ticked label.
"""
import pytest
from django.contrib.admin.sites import site
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from labeling.annotations.models import Annotation
from labeling.items.models import Item
from labeling.projects.models import Label, Membership, Project

from .test_annotation_helpers import add_member
from .test_settings_pages_stale_edits import open_page

pytestmark = pytest.mark.django_db


def _projects_with_two_leads(project_factory, make_user, n, start=0):
    """n projects, each with two leads (lena{i}, leo{i}); returns lena's memberships."""
    memberships = []
    for i in range(start, start + n):
        project = project_factory(f"p{i}", labels=("a",), sources=("s",))
        add_member(make_user, project, f"lena{i}", role=Membership.LEAD)
        add_member(make_user, project, f"leo{i}", role=Membership.LEAD)
        memberships.append(Membership.objects.get(project=project, user__username=f"lena{i}"))
    return memberships


def _deletion_check_queries(admin_user, memberships) -> tuple[int, list]:
    request = RequestFactory().get("/admin/projects/membership/")
    request.user = admin_user
    model_admin = site._registry[Membership]
    queryset = Membership.objects.filter(pk__in=[m.pk for m in memberships])
    with CaptureQueriesContext(connection) as queries:
        protected = model_admin.get_deleted_objects(queryset, request)[3]
    return len(queries), protected


def test_the_membership_deletion_check_reads_the_leads_of_all_projects_at_once(project_factory, make_user,
                                                                                admin_user):
    two = _projects_with_two_leads(project_factory, make_user, 2)
    six = two + _projects_with_two_leads(project_factory, make_user, 4, start=2)
    n_two, protected_two = _deletion_check_queries(admin_user, two)
    n_six, protected_six = _deletion_check_queries(admin_user, six)
    assert protected_two == protected_six == []
    # Before: one query for the projects, then one per project for its leads.
    assert n_six == n_two, (n_two, n_six)

    # Removing both leads of one project is refused, naming it, with the members paths' words.
    p1 = Project.objects.get(slug="p1")
    both = list(Membership.objects.filter(project=p1))
    _, protected = _deletion_check_queries(admin_user, [*six, *both])
    assert protected == ["P1 (p1): A project keeps at least one lead; add another lead before removing this one."]


def test_the_membership_bulk_deletion_still_keeps_a_lead_and_deletes_the_rest(project_factory, make_user,
                                                                              admin_client):
    memberships = _projects_with_two_leads(project_factory, make_user, 3)
    p0 = Project.objects.get(slug="p0")
    leo0 = Membership.objects.get(project=p0, user__username="leo0")
    response = admin_client.post("/admin/projects/membership/", {
        "action": "delete_selected", "_selected_action": [m.pk for m in memberships] + [leo0.pk], "post": "yes"})
    assert response.status_code == 200
    assert "P0 (p0): A project keeps at least one lead" in response.content.decode()
    assert Membership.objects.count() == 6  # nothing deleted
    response = admin_client.post("/admin/projects/membership/", {
        "action": "delete_selected", "_selected_action": [m.pk for m in memberships], "post": "yes"})
    assert response.status_code == 302
    assert sorted(Membership.objects.values_list("user__username", flat=True)) == ["leo0", "leo1", "leo2"]


def _labels_in_use(project, names):
    source = project.sources.first()
    labels = []
    for i, name in enumerate(names):
        label = Label.objects.create(project=project, name=name, hotkey="")
        item = Item.objects.create(project=project, source=source, text=f"{name} text", text_hash=f"h-{name}-{i}")
        Annotation.objects.create(project=project, item=item, label=label)
        Annotation.objects.create(project=project, item=item, label=label, undone=True)
        labels.append(label)
    return labels


def _confirmation(admin_client, labels):
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.post("/admin/projects/label/", {
            "action": "delete_selected", "_selected_action": [label.pk for label in labels]})
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_deleting_labels_in_use_costs_the_same_queries_for_two_or_six(project_factory, admin_client):
    alpha = project_factory("alpha", labels=("coarse",), sources=("s",))
    coarse = alpha.labels.get(name="coarse")
    Label.objects.create(project=alpha, name="fine", parent=coarse, hotkey="")
    labels = _labels_in_use(alpha, [f"used{i}" for i in range(6)])
    n_two, page_two = _confirmation(admin_client, labels[:2])
    n_six, page_six = _confirmation(admin_client, labels)
    # Before: up to four queries per ticked label (its answers, fine labels, and two counts).
    assert n_six == n_two, (n_two, n_six)
    said = ("is in use by 2 answers (1 live, 1 undone or changed, kept as the answers&#x27; history) and cannot be "
            "deleted. Answers keep the label they were given")
    assert page_six.count(said) == 6 and page_two.count(said) == 2
    _, page = _confirmation(admin_client, [coarse, labels[0]])
    assert "The label “coarse” is in use (fine labels refer to it) and cannot be deleted." in page
    assert page.index("“coarse” is in use") < page.index("“used0” is in use")  # in the order ticked
    assert Label.objects.filter(project=alpha).count() == 8


def _ticked_rows_save(admin_client, project, labels):
    url = f"/admin/projects/project/{project.pk}/change/"
    page = open_page(admin_client, url, "project_form")
    for label in labels:
        row = next(key[:-len("-id")] for key, values in page.items()
                   if key.startswith("labels-") and key.endswith("-id") and values == [str(label.pk)])
        page[f"{row}-DELETE"] = ["on"]
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.post(url, page)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_project_pages_ticked_label_rows_in_use_cost_the_same_queries(project_factory, admin_client):
    alpha = project_factory("alpha", labels=(), sources=("s",))
    labels = _labels_in_use(alpha, [f"used{i}" for i in range(6)])
    n_two, page_two = _ticked_rows_save(admin_client, alpha, labels[:2])
    n_six, page_six = _ticked_rows_save(admin_client, alpha, labels)
    assert page_two.count("is in use by 2 answers (1 live") == 2 and page_six.count("is in use by 2 answers") == 6
    # The page's other rows cost what they cost either way (six rows shown both times); the check
    # of the ticked ones no longer grows with them.
    assert n_six == n_two, (n_two, n_six)
    assert Label.objects.filter(project=alpha).count() == 6
