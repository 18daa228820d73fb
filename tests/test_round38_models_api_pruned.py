"""The models API says which versions retention pruned (their head and scores are gone: an export
answers 410): the list and one version's page gave no sign of it."""
import pytest
from rest_framework.test import APIClient

from tests.test_retention_readers import _built, eager_celery, pruned  # noqa: F401 (fixtures)


@pytest.mark.django_db
def test_the_models_api_names_the_pruned_versions(pruned, make_user):  # noqa: F811
    root = make_user("rootp", superuser=True)
    api = APIClient()
    api.force_authenticate(root)
    listed = {v["number"]: v for v in api.get("/api/projects/kept/models/").json()["results"]}
    assert listed[1]["pruned_at"] and listed[2]["pruned_at"] and listed[3]["pruned_at"] is None
    one = api.get("/api/projects/kept/models/1/").json()
    assert one["pruned_at"] == listed[1]["pruned_at"]
