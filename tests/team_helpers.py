"""A small annotation team on one project, driven through the API as the annotate page drives it:
shared by the round-40 tests of double labeling and leads' decisions."""
from __future__ import annotations

import uuid

from labeling.projects.models import Membership

from .test_annotation_helpers import add_member, api_as


def make_team(project_factory, make_user, slug: str, annotators=("ann", "bob", "cy")):
    """(project, people by name, label ids by name): the annotators plus lead "lena", batches of 10."""
    project = project_factory(slug)
    project.batch_size = 10
    project.save()
    people = {name: add_member(make_user, project, name) for name in annotators}
    people["lena"] = add_member(make_user, project, "lena", role=Membership.LEAD)
    labels = {label.name: label.pk for label in project.labels.all()}
    return project, people, labels


class ProjectApi:
    """The project's API as one user calls it: ``post``, a batch lease and an answer (raw replies)."""

    def __init__(self, slug: str):
        self.slug = slug

    def post(self, user, path, body):
        return api_as(user).post(f"/api/projects/{self.slug}/{path}", body, format="json")

    def lease(self, user) -> dict:
        response = self.post(user, "batches/", {})
        assert response.status_code == 200, response.content
        return response.json()

    def answer(self, user, assignment: int, label_id: int):
        return self.post(user, "annotations/", {"client_id": str(uuid.uuid4()), "assignment": assignment,
                                                "label": label_id})
