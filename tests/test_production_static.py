"""Production mode serves every page: static files are built the way the Dockerfile builds them
(``collectstatic`` with ``DEBUG=0``, hashed manifest storage) and the app runs under gunicorn
with ``DEBUG=0``, both in subprocesses with their own temporary STATIC_ROOT and SQLite database.

A signed-in lead then loads every HTML page: each answers 200 (the sign-in page sends anonymous
visitors there), and every /static/ file a page names answers 200 under its hashed name,
including the ES modules that those modules import. tests/browser/test_production_browser.py
runs the annotation page and the dashboard in Chromium against the same server.
"""
import http.client
import json
import os
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "pw-Longtail-123"
SLUG = "support"

# Run in the server's environment after `migrate`: a superuser who leads a project with labels,
# sources, an open wave (batch 3 of 6, so one answer never closes it) and a finished import.
SEED = """
import json
from django.contrib.auth import get_user_model
from labeling.items.models import ImportBatch
from labeling.projects.models import Label, Membership, Project, Source
from tests.test_annotation_helpers import make_open_wave

user = get_user_model().objects.create_superuser("lena", "lena@example.org", PASSWORD)
project = Project.objects.create(slug=SLUG, name="Support", batch_size=3)
for i, name in enumerate(("billing", "login", "fraud")):
    Label.objects.create(project=project, name=name, hotkey=str(i + 1), description="About " + name)
for name in ("email", "chat"):
    Source.objects.create(project=project, name=name, quota=0.5)
Membership.objects.create(user=user, project=project, role=Membership.LEAD)
make_open_wave(project, 6, batch_size=3, texts=["ticket %d: my card was charged twice" % i for i in range(6)])
batch = ImportBatch.objects.create(project=project, filename="tickets.csv", created_by=user,
                                   state=ImportBatch.DONE, progress=1.0, rows_total=6, rows_imported=6)
from labeling.items.models import Item
print(json.dumps({"import_batch": batch.pk, "item": Item.objects.filter(project=project).order_by("pk").first().pk}))
"""

# Named routes that are not HTML pages (downloads, JSON, POST-only actions). Every other named
# route outside the API and the admin must be in PAGES below, so a new page cannot skip this test.
NOT_PAGES = {
    "logout", "schema", "items:import-rejects", "project-export-labels", "project-export-model",
    "project-rule-delete", "project-rule-enable", "project-member-remove", "project-waves-status", "project-wave-close",
    "project-wave-plan", "project-wave-open", "project-retrain", "project-final-model", "items:bulk",
}


def pages(import_batch: int, item: int = 1) -> dict[str, str]:
    """URL name -> path of every HTML page a signed-in lead of SLUG can open."""
    slug = {"slug": SLUG}
    return {
        "login": reverse("login"),
        "home": reverse("home"),
        "project-create": reverse("project-create"),
        "project-overview": reverse("project-overview", kwargs=slug),
        "annotate": reverse("annotate", kwargs=slug),
        "review": reverse("review", kwargs=slug),
        "project-dashboard": reverse("project-dashboard", kwargs=slug),
        "project-export": reverse("project-export", kwargs=slug),
        "items:import": reverse("items:import", kwargs=slug),
        "items:import-detail": reverse("items:import-detail", kwargs={**slug, "batch_id": import_batch}),
        "items:browse": reverse("items:browse", kwargs=slug),
        "items:item": reverse("items:item", kwargs={**slug, "item_id": item}),
        "project-settings": reverse("project-settings", kwargs=slug),
        "project-labels": reverse("project-labels", kwargs=slug),
        "project-sources": reverse("project-sources", kwargs=slug),
        "project-rules": reverse("project-rules", kwargs=slug),
        "project-members": reverse("project-members", kwargs=slug),
        "project-waves": reverse("project-waves", kwargs=slug),
        "swagger-ui": reverse("swagger-ui"),
        "admin:index": reverse("admin:index"),
    }


@dataclass
class ProductionServer:
    url: str
    import_batch: int
    item: int
    process: subprocess.Popen
    log: Path
    build_seconds: float

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def production_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    # No broker, no PostgreSQL: the server gets its own SQLite file even when the suite runs on
    # the CI services, so it cannot touch the test database.
    for name in ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CELERY_TASK_ALWAYS_EAGER",
                 "LONGTAIL_ARTIFACT_DIR", "MEDIA_ROOT"):
        env.pop(name, None)
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "DATABASE_URL": "",
        "LONGTAIL_VAR_DIR": str(tmp / "var"),
        "STATIC_ROOT": str(tmp / "static"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback; everything else stays production
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(process: subprocess.Popen, what: str, timeout: float = 120) -> str:
    out, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"{what} failed (exit {process.returncode}):\n{out[-4000:]}"
    return out


def start_production_server(tmp: Path) -> ProductionServer:
    started = time.monotonic()
    env = production_env(tmp)
    # collectstatic and the database do not depend on each other: build both at once.
    collect = _run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], env)
    setup = _run([sys.executable, "-c",
                  "import django; django.setup(); from django.core.management import call_command; "
                  "call_command('migrate', interactive=False, verbosity=0)\n"
                  f"PASSWORD, SLUG = {PASSWORD!r}, {SLUG!r}\n" + SEED], env)
    _finish(collect, "collectstatic with DEBUG=0")
    seeded = json.loads(_finish(setup, "migrate + seed").strip().splitlines()[-1])
    assert (tmp / "static" / "staticfiles.json").is_file(), "collectstatic wrote no manifest"

    # Port 0: the kernel picks a free port and gunicorn logs it, so no two runs can race for one.
    log = tmp / "gunicorn.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", "127.0.0.1:0",
             "--workers", "1", "--threads", "4", "--timeout", "60", "--log-level", "info"],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    server = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", log.read_text(errors="replace"))
        if found:
            server = ProductionServer(found.group(1), seeded["import_batch"], seeded["item"], process, log, 0.0)
            try:
                if Client(server.url).get("/healthz").status == 200:
                    break
            except OSError:
                pass  # the worker is still importing the app
        time.sleep(0.2)
    else:
        process.kill()
        process.wait()
        pytest.fail(f"gunicorn did not come up with DEBUG=0:\n{log.read_text(errors='replace')[-4000:]}")
    server.build_seconds = time.monotonic() - started
    return server


_server: ProductionServer | None = None


@pytest.fixture(scope="session")
def production_server(tmp_path_factory):
    """One DEBUG=0 gunicorn for the session, shared with the browser test that imports this
    fixture (two modules, one server: the second request reuses the first start)."""
    global _server
    if _server is None or _server.process.poll() is not None:
        _server = start_production_server(tmp_path_factory.mktemp("production"))
    yield _server
    _server.stop()


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Client:
    """A bare HTTP client that keeps cookies itself: DEBUG=0 marks the session and CSRF cookies
    Secure, which a standard cookie jar would not send back over plain HTTP on loopback."""
    base: str
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Response:
        parts = urlsplit(self.base)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            connection.request(method, path, body=body, headers=headers)
            raw = connection.getresponse()
            response = Response(raw.status, raw.headers, raw.read())
        finally:
            connection.close()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def login(self, username: str, password: str):
        form = self.get(reverse("login"))
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        done = self.request("POST", reverse("login"), body=urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": token}).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert done.status == 302 and "sessionid" in self.cookies, f"login failed: {done.status} {done.text[:500]}"


STATIC_REF = re.compile(r"""(?:src|href)=["'](/static/[^"']+)["']""")
MODULE_IMPORT = re.compile(r"""(?:import|export)\b[^;]*?\bfrom\s*["'](\.{1,2}/[^"']+)["']\s*;""")
HASHED = re.compile(r"\.[0-9a-f]{12}\.")


def named_routes(patterns, prefix: str = "") -> set[str]:
    """Every route name, with its namespace ("items:import"), the admin's left out."""
    names = set()
    for entry in patterns:
        if isinstance(entry, URLResolver) and entry.namespace != "admin":
            names |= named_routes(entry.url_patterns, f"{prefix}{entry.namespace}:" if entry.namespace else prefix)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(prefix + entry.name)
    return names


def test_every_page_is_listed_here():
    routes = {name for name in named_routes(get_resolver().url_patterns) if not name.split(":")[-1].startswith("api-")}
    unknown = routes - set(pages(1)) - NOT_PAGES
    assert not unknown, f"new routes {sorted(unknown)}: add each to pages() (HTML) or NOT_PAGES (not HTML)"


def test_every_page_and_its_static_files_load_with_debug_off(production_server):
    client = Client(production_server.url)
    # Anonymous visitors are sent to sign in; the sign-in page itself renders with hashed files.
    anonymous = client.get(reverse("home"))
    assert anonymous.status == 302 and anonymous.headers["Location"].startswith(reverse("login")), anonymous.status
    client.login("lena", PASSWORD)

    assets: dict[str, set[str]] = {}
    failures = []
    for name, path in pages(production_server.import_batch, production_server.item).items():
        response = client.get(path)
        if response.status != 200:
            failures.append(f"{name} {path}: HTTP {response.status}")
            continue
        for ref in STATIC_REF.findall(response.text):
            assets.setdefault(ref, set()).add(name)
    assert not failures, "\n".join(failures) + "\n--- gunicorn log ---\n" + production_server.log_tail()

    # Every file a page names, and every module those modules import, answers under its hashed
    # name: a missed rewrite would leave an unhashed or unknown import behind.
    queue, seen = list(assets), set()
    while queue:
        ref = queue.pop()
        if ref in seen:
            continue
        seen.add(ref)
        response = client.get(ref)
        used_by = ", ".join(sorted(assets.get(ref, {"an imported module"})))
        if response.status != 200:
            failures.append(f"{ref} (on {used_by}): HTTP {response.status}")
            continue
        if not HASHED.search(ref.rsplit("/", 1)[-1]):
            failures.append(f"{ref} (on {used_by}): not a hashed name, so the manifest was not used")
        if ref.endswith(".js"):
            if "javascript" not in response.headers.get("Content-Type", ""):
                failures.append(f"{ref}: Content-Type {response.headers.get('Content-Type')} (modules need JS)")
            if ref.startswith("/static/js/"):  # our own modules; vendored bundles are not parsed
                queue.extend(urljoin(ref, target) for target in MODULE_IMPORT.findall(response.text))
    assert not failures, "\n".join(failures)

    # The ES modules of both pages were reached through their imports, not only their entries.
    for module in ("js/annotate/state", "js/annotate/outbox", "js/dashboard/charts", "js/dashboard/tables"):
        assert any(ref.startswith(f"/static/{module}.") for ref in seen), f"{module} was never imported"
    assert "Internal Server Error" not in production_server.log_tail(200_000), production_server.log_tail()


def test_dockerfile_builds_static_files_the_production_way():
    dockerfile = (ROOT / "Dockerfile").read_text()
    collect = [line for line in dockerfile.splitlines() if "collectstatic" in line and line.startswith("RUN")]
    assert len(collect) == 1, collect
    assert "DEBUG=0" in collect[0] and "SECRET_KEY=" in collect[0], collect[0]


def test_compose_web_serves_the_static_files_built_into_the_image():
    import yaml

    web = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]
    assert web["environment"]["DEBUG"] == "0"
    # A volume or another STATIC_ROOT would hide the files (and the manifest) the image built.
    assert "STATIC_ROOT" not in web["environment"]
    assert not any(str(volume).split(":")[1].startswith("/app") for volume in web.get("volumes", [])), web["volumes"]
    assert "collectstatic" not in str(web.get("command", "")), "collectstatic belongs in the image build"
