"""The product's predictions for a text are computed from another text's vector whenever the two
texts normalise alike (learner.text.normalize_text masks URLs, e-mail addresses, @mentions and digit
runs and casefolds): the embedding cache is keyed by that lossy hash, and the first text encoded under
it "stands for all" (learner.embedding.embed_texts), from any project, since the vectors table is
shared. So the predict API answers "help: https://shop.example/password-reset" with the vector of
"help: https://shop.example/refund-request" when that one was seen first, and the model bundle,
loaded with its README's snippet, answers the same text differently. Found in a live project (v3
of a 5-label coarse → fine project): 120 of 449 stored scores differed from the bundle's on their own
text by more than 0.01 (up to 0.26), each equal (to 2e-4) to the bundle's answer for a twin's text.

Real encoder (torch backend, no ONNX export built for the test), real trained head, real API."""
import io
import zipfile

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from labeling.modeling.embedding import model_id
from labeling.modeling.embedding_store import DbEmbeddingCache
from learner.text import exact_text_hash, text_hash
from learner.training import TrainedClassifier
from tests import test_label_identity_helpers as helpers

pytestmark = pytest.mark.django_db
trained = helpers.trained

FIRST = "help: https://shop.example/refund-request"
SECOND = "help: https://shop.example/password-reset"


@pytest.fixture
def torch_encoder(settings):
    settings.LONGTAIL_ENCODER_BACKEND = "torch"  # no ONNX export built for the test
    return SentenceTransformer(str(settings.LONGTAIL_MODEL_PATH), device="cpu")


def _predict(client, text):
    r = client.post(f"/api/projects/{helpers.SLUG}/predict/", {"texts": [text], "queue_for_review": False},
                    format="json")
    assert r.status_code == 200, r.content
    return r.json()["results"][0]


def _bundle_head(client):
    r = client.get(f"/api/projects/{helpers.SLUG}/export/model/")
    assert r.status_code == 200, r.content
    with zipfile.ZipFile(io.BytesIO(r.content)) as bundle:
        return TrainedClassifier.from_bytes(bundle.read("head.bin"))


def test_the_two_texts_normalise_alike_but_are_different_texts(torch_encoder):
    assert text_hash(FIRST) == text_hash(SECOND)
    a, b = torch_encoder.encode([FIRST, SECOND], normalize_embeddings=True)
    assert float(a @ b) < 0.95  # the encoder tells them apart


def test_predict_answers_each_text_from_its_own_vector_as_the_exported_bundle_does(trained, torch_encoder):
    _project, client, _version, _labels = trained
    first = _predict(client, FIRST)
    second = _predict(client, SECOND)
    head = _bundle_head(client)
    X = torch_encoder.encode([FIRST, SECOND], normalize_embeddings=True)
    bundle = head.predict_proba(X)
    names = [str(c) for c in head.classes_]
    got = np.array([[row["probabilities"][n] for n in names] for row in (first, second)])
    assert np.allclose(got[0], bundle[0], atol=2e-3), (got[0], bundle[0])
    # The second text is answered from the first text's cached vector: the same probabilities as
    # the first, not the bundle's for its own text.
    assert np.allclose(got[1], bundle[1], atol=2e-3), (
        f"predict answered {SECOND!r} with {got[1].round(4).tolist()}, the exported bundle on that text gives "
        f"{bundle[1].round(4).tolist()}; predict's answer for {FIRST!r} was {got[0].round(4).tolist()}")


def test_the_cached_vector_of_a_predicted_text_is_the_vector_of_that_text(db, torch_encoder):
    """What predict reads: the vectors table under each text's exact hash. (Items are another matter
    by design: exact duplicates by the import's rule share one vector under ``text_hash``, as they
    share a label; docs/intake.md.)"""
    from labeling.modeling.embedding import embed_query_texts

    embed_query_texts([FIRST])  # e.g. another project's predict call
    vector = embed_query_texts([SECOND])[0]
    own = torch_encoder.encode([SECOND], normalize_embeddings=True)[0]
    assert float(vector @ own) > 0.999, f"the vector for {SECOND!r} has cosine {float(vector @ own):.3f} with its text"
    stored = DbEmbeddingCache().get_many(model_id(), [exact_text_hash(SECOND)])[exact_text_hash(SECOND)]
    assert float(stored @ own) > 0.999
