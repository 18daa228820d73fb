"""Deleting a project removes the vectors of the texts only it used (labeling.projects.deletion):
the texts members sent to its predict API are that project's texts too. Real encoder, real model,
PostgreSQL."""
import pytest

from tests.test_predict import api_as, label_project, trained, world  # noqa: F401 - fixtures below

pytestmark = pytest.mark.django_db


def test_deleting_a_project_removes_the_vectors_of_texts_sent_to_its_predict_api(world, trained):  # noqa: F811
    from labeling.modeling.models import Embedding
    from labeling.projects.deletion import delete_project
    from learner.text import exact_text_hash, text_hash

    text = "customer 88812 at 14 Elm Road says the refund for invoice 5521 never arrived"
    response = api_as(world["annotator"]).post("/api/projects/alpha/predict/", {"texts": [text]}, format="json")
    assert response.status_code == 200, response.json()
    keys = {exact_text_hash(text), text_hash(text)}
    assert Embedding.objects.filter(text_hash__in=keys).exists()  # the call stored the text's vector

    delete_project(world["alpha"])

    left = Embedding.objects.filter(text_hash__in=keys).count()
    assert left == 0, (f"{left} vector(s) of a text sent only to the deleted project's predict API are still "
                       "stored, with no project left that uses them")


def test_deleting_a_project_removes_the_vectors_of_its_labels_earlier_texts(project_factory):
    """A lead edits a label's description (or renames it) after the planner embedded its text: the
    vector of the earlier text was stored for this project only, and must go with it."""
    from labeling.modeling.embedding import embed_query_texts
    from labeling.modeling.models import Embedding
    from labeling.projects.deletion import delete_project
    from learner.planning.snapshot import label_texts
    from learner.text import exact_text_hash

    project = project_factory("tenant-labels", labels=("billing", "login"))
    label = project.labels.get(name="billing")
    label.description = "charges on invoice 5521 of customer 88812"
    label.save()
    first = label_texts(["billing"], {"billing": label.description})[0]
    embed_query_texts([first], project_id=project.pk)  # as the planner embeds the label's text
    assert Embedding.objects.filter(text_hash=exact_text_hash(first)).exists()

    label.description = "money questions"
    label.save()
    embed_query_texts(label_texts(["billing"], {"billing": label.description}), project_id=project.pk)

    delete_project(project)

    assert not Embedding.objects.filter(text_hash=exact_text_hash(first)).exists(), (
        "the vector of the label's earlier text, stored for the deleted project only, is still there")
