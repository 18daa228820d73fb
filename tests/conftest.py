"""Shared fixtures. With DATABASE_URL / REDIS_URL set (CI), the real services must answer: the
suite stops at once instead of quietly falling back to SQLite or eager tasks."""
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from .test_loop_helpers import make_project

SHARED_DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"


def pytest_sessionstart(session):
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        import redis

        try:
            redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
        except Exception as exc:  # noqa: BLE001 - any failure here must stop the run
            pytest.exit(f"REDIS_URL={redis_url} is set but Redis does not answer: {exc}", returncode=3)
    db_url = os.environ.get("DATABASE_URL")
    if db_url and db_url.startswith("postgres"):
        import psycopg2

        try:
            psycopg2.connect(db_url, connect_timeout=3).close()
        except Exception as exc:  # noqa: BLE001
            pytest.exit(f"DATABASE_URL={db_url} is set but PostgreSQL does not answer: {exc}", returncode=3)


def pytest_xdist_setupnodes(config, specs):
    """With pytest-xdist (``-n 2``), each worker process gets a Redis database and a var folder of its
    own (pytest-django already gives it its own test database): a worker's Celery broker, throttle
    counts and model artifacts must not meet another worker's. Set in the environment the worker
    starts with, because Django reads its settings before any conftest runs there."""
    redis_url = os.environ.get("REDIS_URL")
    for index, spec in enumerate(specs):
        # One BLAS / OpenMP / torch thread per process (and per worker or server it starts), unless set:
        # test processes run one per core, and each one's default of a thread per core made them
        # spin against one another (the fine-tune and encoding tests ran measurably slower).
        if "OMP_NUM_THREADS" not in os.environ:
            spec.env["OMP_NUM_THREADS"] = "1"
        # One cache of the encoder's ONNX exports for every test process and the workers and servers
        # they start: many tests give the app an artifact folder of their own, and each built and
        # timed the export again there on its first encode.
        if "LONGTAIL_ENCODER_CACHE_ROOT" not in os.environ:
            spec.env["LONGTAIL_ENCODER_CACHE_ROOT"] = str(Path(__file__).resolve().parent.parent / "var" / "test-cache")
        if redis_url:
            spec.env["REDIS_URL"] = redis_database_below(redis_url, index)
        spec.env["LONGTAIL_VAR_DIR"] = str(Path(__file__).resolve().parent.parent / "var" / f"test-gw{index}")


def redis_database_below(url: str, steps: int) -> str:
    """``url`` naming the database ``steps`` below the one it names (Redis' rule: no path is database
    0), options kept; worker 0 keeps the URL's own database."""
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(number - steps) % 16}"))


@pytest.fixture(autouse=True)
def fresh_embedding_memos():
    """The per-process embedding memos assume a (model, text hash) vector never changes, which holds
    in the product. Tests break it: several write synthetic or noise vectors for the same texts, and
    a later test with those texts would read the earlier one's vectors from the memo. The same for
    the per-process decoding rules and heads, kept per model version id, which a recreated test
    database can hand out again."""
    yield
    from labeling.modeling.decoding import clear_rules  # Django is set up by the time a test ends
    from labeling.modeling.embedding_store import clear_memos
    from labeling.modeling.versions import clear_classifiers

    clear_memos()
    clear_rules()
    clear_classifiers()


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    """Each test starts with no throttle counts (token, sign-in, predict: DRF's "throttle_<scope>_<id>"
    keys). They live in Redis for a minute, and a recreated test database hands out the same user
    ids and usernames again, so a run right after another (or many browser sign-ins as "ann" across
    tests) would start throttled."""
    from django.core.cache import cache  # Django is set up by the time a test starts

    if hasattr(cache, "_cache") and hasattr(cache._cache, "get_client"):  # Redis
        client = cache._cache.get_client(None, write=True)
        keys = list(client.scan_iter(match=cache.make_key("throttle_*"), count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()  # the in-process cache of runs without REDIS_URL
    yield


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # The default PBKDF2 costs ~0.4 s per user on this machine; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in-process, their errors raised, even where REDIS_URL configures a broker
    (no worker runs in the test): the task's own code runs. Tests with a real worker start one
    (tests/service_processes.py)."""
    from config.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def shared_datasets() -> Path:
    if not SHARED_DATASETS.is_dir():
        pytest.skip("../shared/datasets is absent on this machine")
    return SHARED_DATASETS


@pytest.fixture
def dataset_vectors(shared_datasets):
    """Path to the MiniLM vectors of ../shared/datasets/<name>.jsonl (bench/.cache/emb, row-aligned),
    encoded with the real bundled encoder on first use (about a minute per dataset on 2 cores)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "embed_datasets", Path(__file__).resolve().parent.parent / "bench" / "embed_datasets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return lambda name: module.dataset_vectors(shared_datasets / f"{name}.jsonl")


@pytest.fixture
def make_user(db, django_user_model):
    def _make(username, *, superuser=False, password="pw-Longtail-123"):
        if superuser:
            return django_user_model.objects.create_superuser(username, f"{username}@example.org", password)
        return django_user_model.objects.create_user(username, f"{username}@example.org", password)

    return _make


@pytest.fixture
def world(make_user, project_factory):
    """Projects alpha and beta; an admin, alpha's lead and annotator, and an outsider."""
    from labeling.projects.models import Membership

    alpha = project_factory("alpha")
    beta = project_factory("beta")
    users = {"admin": make_user("root", superuser=True), "lead": make_user("lena"),
             "annotator": make_user("ann"), "outsider": make_user("otto")}
    Membership.objects.create(user=users["lead"], project=alpha, role=Membership.LEAD)
    Membership.objects.create(user=users["annotator"], project=alpha, role=Membership.ANNOTATOR)
    return {"alpha": alpha, "beta": beta, **users}


@pytest.fixture
def postgres_only():
    """Skips a test that needs PostgreSQL (row locks, real concurrent connections, its query plans)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks, concurrent connections, query plans): set DATABASE_URL=postgres://…")


@pytest.fixture
def project_factory(db):
    """make_project(slug, labels=..., sources=...): a project with labels (hotkeys 1, 2, ...) and sources
    of equal quota."""
    return make_project
