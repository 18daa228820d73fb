"""README: `make test` runs two pytest-xdist processes, "each with its own ... Redis database (the one
`REDIS_URL` names, then the one below it)". tests/conftest.py pytest_xdist_setupnodes takes the
database number as whatever follows the URL's last "/": a REDIS_URL that names no database
(`redis://127.0.0.1:6379`, database 0 by Redis' rules) or carries options
(`redis://127.0.0.1:6379/0?socket_timeout=5`) stops `make test` before any test runs with
"ValueError: invalid literal for int() with base 10: '127.0.0.1:6379'"."""
import pytest

from tests import conftest


class _Spec:
    def __init__(self):
        self.env = {}


@pytest.mark.parametrize(("url", "first", "second"), [
    ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/15"),
    ("redis://127.0.0.1:6379/3?socket_timeout=5", "/3", "/2"),
])
def test_each_worker_gets_a_redis_database_of_its_own(monkeypatch, url, first, second):
    monkeypatch.setenv("REDIS_URL", url)
    specs = [_Spec(), _Spec()]
    conftest.pytest_xdist_setupnodes(None, specs)  # today: ValueError for both URLs
    urls = [spec.env["REDIS_URL"] for spec in specs]
    assert first in urls[0] and second in urls[1] and urls[0] != urls[1], urls
