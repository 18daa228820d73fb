"""The query texts a project embeds (its predict requests, its label texts) are recorded as its own,
also when their vector was cached already: deleting one project keeps a vector another project
still uses, and deleting the last one removes it. Real encoder, PostgreSQL."""
import pytest

pytestmark = pytest.mark.django_db

TEXT = "customer 40417 asks where the refund for order 9920 went"


def test_a_query_text_two_projects_sent_goes_with_the_last_of_them(project_factory):
    from labeling.modeling.embedding import embed_query_texts
    from labeling.modeling.models import Embedding, EmbeddingUse
    from labeling.projects.deletion import delete_project, deletion_counts
    from learner.text import exact_text_hash

    first = project_factory("uses-first", labels=("billing", "login"))
    second = project_factory("uses-second", labels=("billing", "login"))
    key = exact_text_hash(TEXT)
    embed_query_texts([TEXT], project_id=first.pk)
    embed_query_texts([TEXT], project_id=second.pk)  # read from the cache: still the second project's text
    assert set(EmbeddingUse.objects.filter(text_hash=key).values_list("project_id", flat=True)) == {first.pk,
                                                                                                     second.pk}
    assert deletion_counts(first)["embeddings used by no other project"] == 0

    delete_project(first)
    assert Embedding.objects.filter(text_hash=key).exists(), "deleting one project removed a vector another uses"
    assert not EmbeddingUse.objects.filter(project_id=first.pk).exists()

    delete_project(second)
    assert not Embedding.objects.filter(text_hash=key).exists()
    assert not EmbeddingUse.objects.filter(text_hash=key).exists()


def test_a_query_text_of_a_deleted_project_is_neither_stored_nor_recorded(project_factory):
    """Work still running for a project deleted meanwhile (a planner embedding its label texts):
    nothing is stored for it, and no record refers to it."""
    from labeling.modeling.embedding import embed_query_texts
    from labeling.modeling.models import Embedding, EmbeddingUse
    from labeling.projects.deletion import delete_project
    from learner.text import exact_text_hash

    project = project_factory("uses-gone", labels=("billing", "login"))
    pk = project.pk
    delete_project(project)
    vectors = embed_query_texts([TEXT], project_id=pk)
    assert vectors.shape[0] == 1  # the caller still gets its vector
    assert not Embedding.objects.filter(text_hash=exact_text_hash(TEXT)).exists()
    assert not EmbeddingUse.objects.filter(project_id=pk).exists()
