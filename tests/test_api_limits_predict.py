"""POST /api/projects/<slug>/predict/ is bounded (security audit: ten concurrent calls, or one of
1,000 texts of 4,500 characters, held every web thread): per user by LONGTAIL_PREDICT_RATE (then 429
with Retry-After), and per call by LONGTAIL_PREDICT_MAX_CHARS over all its texts (400 naming
``texts``). Annotators may still call it. Real requests with real tokens; the counts live in the
configured cache (Redis in CI). The project has no model yet, so a call let through answers 409:
the throttle and the validation answer before the model is looked up."""
import os

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from labeling.projects.models import Membership
from labeling.projects.throttles import UserScopedRateThrottle, one_call_at_a_time

pytestmark = pytest.mark.django_db
URL = "/api/projects/alpha/predict/"


@pytest.fixture
def members(make_user, project_factory):
    alpha = project_factory("alpha")
    users = {"lead": make_user("lena"), "annotator": make_user("ann"), "other": make_user("olga")}
    for name, user in users.items():
        Membership.objects.create(user=user, project=alpha,
                                  role=Membership.LEAD if name == "lead" else Membership.ANNOTATOR)
    # A recreated test database hands out the same user ids again: start (and end) with no counts.
    keys = [UserScopedRateThrottle.cache_format % {"scope": "predict", "ident": u.pk} for u in users.values()]
    cache.delete_many(keys)
    yield users
    cache.delete_many(keys)


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def predict(client, texts):
    return client.post(URL, {"texts": texts}, format="json")


def with_predict_rate(settings, rate):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "predict": rate}}


def test_an_annotator_is_throttled_after_the_rate_and_others_are_not(members, settings):
    with_predict_rate(settings, "3/minute")
    annotator = client_for(members["annotator"])
    answers = [predict(annotator, ["where is my refund"]).status_code for _ in range(5)]
    assert answers == [409, 409, 409, 429, 429]  # let through (no model yet), then throttled
    refused = predict(annotator, ["where is my refund"])
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 60
    assert "throttled" in refused.json()["detail"].lower()
    # Counted per user: a colleague of the same project is still served.
    assert predict(client_for(members["other"]), ["where is my refund"]).status_code == 409


@pytest.mark.skipif(bool(os.environ.get("LONGTAIL_PREDICT_RATE")), reason="LONGTAIL_PREDICT_RATE is set here")
def test_the_default_rate_is_ten_calls_a_minute(members):
    lead = client_for(members["lead"])
    answers = [predict(lead, ["hello"]).status_code for _ in range(11)]
    assert answers == [409] * 10 + [429]


@pytest.mark.skipif(bool(os.environ.get("LONGTAIL_PREDICT_MAX_CHARS")),
                    reason="LONGTAIL_PREDICT_MAX_CHARS is set here")
def test_more_than_200000_characters_in_one_call_are_refused(members):
    annotator = client_for(members["annotator"])
    refused = predict(annotator, ["x" * 4_500] * 45)  # 202,500 characters, each text within the project's 20,000
    assert refused.status_code == 400
    assert refused.json() == {"texts": [
        "The texts have 202,500 characters in all; one request may send at most 200,000. "
        "Send them in smaller batches."]}
    assert predict(annotator, ["x" * 4_500] * 44).status_code == 409  # 198,000: let through


def test_the_total_cap_follows_the_setting(members, settings):
    settings.LONGTAIL_PREDICT_MAX_CHARS = 10
    lead = client_for(members["lead"])
    assert predict(lead, ["12345", "67890"]).status_code == 409
    refused = predict(lead, ["12345", "678901"])
    assert refused.status_code == 400 and "11 characters in all" in refused.json()["texts"][0]


def test_one_predict_call_at_a_time_per_user(members):
    """The rate counts calls over a minute; ten sent at once would still take ten web threads. While
    one of a user's calls runs (on any web worker: the mark is in the shared cache), the next is a
    429 saying so; a colleague is served; once it ends, the user is served again."""
    annotator = client_for(members["annotator"])
    with one_call_at_a_time("predict", members["annotator"]):  # a call of theirs still running elsewhere
        refused = predict(annotator, ["where is my refund"])
        assert refused.status_code == 429
        assert refused.json()["detail"] == ("Your previous predict call is still running: one call at a time per "
                                            "user. Send this one once it has answered.")
        assert predict(client_for(members["other"]), ["where is my refund"]).status_code == 409
    assert predict(annotator, ["where is my refund"]).status_code == 409  # served (no model yet)
    assert predict(annotator, ["where is my refund"]).status_code == 409  # and its own calls end their mark
