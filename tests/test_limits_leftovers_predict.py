"""POST /api/projects/<slug>/predict/ refused because the user's previous call still runs (security
audit leftovers): the 429 carries Retry-After like the rate's 429 and its body says why, and the
refused call is not counted against LONGTAIL_PREDICT_RATE, so a client that waits and retries does
not lock itself out. Real requests with real tokens; the counts live in the configured cache (Redis
in CI). The project has no model yet: a call let through answers 409."""
import pytest

from labeling.projects.throttles import one_call_at_a_time

from .test_api_limits_predict import client_for, members, predict, with_predict_rate  # noqa: F401 - members: fixture

pytestmark = pytest.mark.django_db
STILL_RUNNING = ("Your previous predict call is still running: one call at a time per user. "
                 "Send this one once it has answered.")


def test_a_call_refused_while_the_previous_runs_says_when_to_retry(members):  # noqa: F811
    annotator = client_for(members["annotator"])
    with one_call_at_a_time("predict", members["annotator"]):  # a call of theirs still running elsewhere
        refused = predict(annotator, ["where is my refund"])
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60, refused.headers
    assert refused.json() == {"detail": STILL_RUNNING}


def test_refused_calls_do_not_use_up_the_rate(members, settings):  # noqa: F811
    with_predict_rate(settings, "2/minute")
    annotator = client_for(members["annotator"])
    with one_call_at_a_time("predict", members["annotator"]):
        answers = [predict(annotator, ["where is my refund"]) for _ in range(4)]
    assert [(a.status_code, a.json()["detail"]) for a in answers] == [(429, STILL_RUNNING)] * 4
    # The previous call answered: the retries are served, up to the rate, which still applies.
    assert [predict(annotator, ["where is my refund"]).status_code for _ in range(3)] == [409, 409, 429]
    rate_refused = predict(annotator, ["where is my refund"])
    assert "throttled" in rate_refused.json()["detail"].lower() and int(rate_refused["Retry-After"]) > 0


def test_a_refused_call_gives_back_only_its_own_count(members, settings):  # noqa: F811
    """Two calls served, then one refused: the served ones stay counted (the rate of 3 leaves one)."""
    with_predict_rate(settings, "3/minute")
    annotator = client_for(members["annotator"])
    assert [predict(annotator, ["hello"]).status_code for _ in range(2)] == [409, 409]
    with one_call_at_a_time("predict", members["annotator"]):
        assert predict(annotator, ["hello"]).status_code == 429
    assert [predict(annotator, ["hello"]).status_code for _ in range(2)] == [409, 429]
