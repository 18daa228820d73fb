"""A project deleted and made again with the same texts (an operator's "delete and start over") gets
its vectors stored again, although the process that embeds still remembers the deleted rows in its
per-process memo (labeling.modeling.embedding_store): the table, not the memo, says what is stored."""
from django.conf import settings

from tests import test_loop_helpers as loop


def test_texts_of_a_deleted_project_are_stored_again_for_a_new_one(project_factory,
                                                                    django_capture_on_commit_callbacks):
    from labeling.items.models import Item
    from labeling.modeling.embedding import embed_items, unembedded_item_ids
    from labeling.modeling.embedding_store import DbEmbeddingCache
    from labeling.modeling.models import Embedding
    from labeling.projects.deletion import delete_project

    first, _ = loop.build_project(project_factory, slug="first", n_items=30, n_labeled=0)
    texts = list(Item.objects.filter(project=first).order_by("pk").values_list("text", "text_hash"))
    with django_capture_on_commit_callbacks(execute=True):
        # The process reads the vectors (a plan, a prediction): its memo keeps them once committed.
        remembered = DbEmbeddingCache().get_many(settings.LONGTAIL_MODEL_ID, [h for _, h in texts])
        assert len(remembered) == 30
        delete_project(first)
    assert not Embedding.objects.filter(text_hash__in=[h for _, h in texts]).exists()

    again = project_factory("again")
    Item.objects.bulk_create([Item(project=again, text=text, text_hash=h) for text, h in texts])
    ids = list(Item.objects.filter(project=again).values_list("pk", flat=True))
    assert sorted(unembedded_item_ids(again)) == sorted(ids)
    embed_items(ids)  # the memo has every vector: nothing needs the encoder
    assert unembedded_item_ids(again) == []
