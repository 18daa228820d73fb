"""The web service's health check passes with the README's production settings, and the image
gives the app the folders docker-compose.yml mounts.

The health check is run exactly as docker-compose.yml states it (the `test` list after "CMD",
with this machine's Python for `python`), in the environment `docker-compose config` gives the web
service for the README's .env, against real gunicorn started with that environment
(config/gunicorn.conf.py, DEBUG=0, static files built as the Dockerfile builds them). Before, it
fetched http://127.0.0.1:8000/accounts/login/ with Host 127.0.0.1: 400 DisallowedHost once .env
named the site's host, and a 301 to https with SECURE_SSL_REDIRECT=1.
"""
from __future__ import annotations

import http.client
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.service_processes import BIN, ROOT, database_url, service_env

pytestmark = pytest.mark.django_db
README = ROOT / "README.md"


def readme_env_lines() -> list[str]:
    """The lines the README's production steps write to .env (`echo "NAME=value" >> .env`), the
    generated SECRET_KEY replaced by a random one."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Running it in production\n"):text.index("\n## Benchmarks\n")]
    lines = re.findall(r'^echo "([A-Z_]+=[^"]*)" >>? \.env', section, flags=re.M)
    assert any(line.startswith("SECRET_KEY=") for line in lines), section
    return [f"SECRET_KEY={secrets.token_urlsafe(40)}" if line.startswith("SECRET_KEY=") else line for line in lines]


def compose_web(tmp_path: Path, env_lines: list[str]) -> dict:
    """The web service as `docker-compose config` resolves it with this .env (a clean environment,
    so nothing of this shell leaks into the interpolation)."""
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose binary not installed")
    env_file = tmp_path / "compose.env"
    env_file.write_text("\n".join(env_lines) + "\n")
    result = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "--env-file", str(env_file),
                             "config"], cwd=ROOT, capture_output=True, text=True,
                            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]["web"]


@pytest.fixture(scope="module")
def built_static(tmp_path_factory) -> Path:
    """collectstatic as the Dockerfile runs it (DEBUG=0, hashed manifest storage)."""
    static = tmp_path_factory.mktemp("static")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DEBUG="0", SECRET_KEY="collectstatic-build-only-not-a-secret", STATIC_ROOT=str(static),
               HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and (static / "staticfiles.json").is_file(), result.stdout + result.stderr
    return static


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebContainer:
    """gunicorn started as the web service starts it, in the service's environment, with what
    only a container has (its database, broker, volume paths and port) pointed at this machine's."""

    def __init__(self, tmp_path: Path, web: dict, static_root: Path):
        self.port = free_port()
        self.env = service_env()
        self.env.update({k: str(v) for k, v in web["environment"].items()})
        self.env.update(
            DATABASE_URL=database_url(), REDIS_URL=os.environ.get("REDIS_URL", ""), STATIC_ROOT=str(static_root),
            MEDIA_ROOT=str(tmp_path / "media"), LONGTAIL_ARTIFACT_DIR=str(tmp_path / "artifacts"),
            GUNICORN_BIND=f"127.0.0.1:{self.port}", GUNICORN_WORKERS="1", LONGTAIL_WARM_ENCODER="0",
            XDG_RUNTIME_DIR=str(tmp_path))  # its own gunicorn control socket
        self.log_path = tmp_path / "gunicorn.log"
        shell, flag, script = shlex.split(web["command"])  # sh -c "migrate && gunicorn …"
        gunicorn = shlex.split(script.split("&&", 1)[1])
        assert gunicorn[:2] == ["gunicorn", "config.wsgi:application"], web["command"]
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen([str(BIN / "gunicorn"), *gunicorn[1:]], cwd=ROOT, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT)
        self.healthcheck = web["healthcheck"]["test"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            if "Booting worker" in self.log_path.read_text(errors="replace") and self.answers():
                return
            time.sleep(0.3)
        self.stop()
        pytest.fail(f"gunicorn did not come up:\n{self.log()}")

    def answers(self) -> bool:
        try:
            self.get("/healthz", host="localhost")
            return True
        except OSError:
            return False

    def get(self, path: str, *, host: str, headers: dict | None = None) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request("GET", path, headers={"Host": host, **(headers or {})})
        response = connection.getresponse()
        response.read()
        return response.status, dict(response.headers)

    def run_healthcheck(self) -> subprocess.CompletedProcess:
        kind, *argv = self.healthcheck
        assert kind == "CMD" and argv[0] == "python", self.healthcheck
        return subprocess.run([sys.executable, *argv[1:]], env=self.env, capture_output=True, text=True, timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def test_the_health_check_passes_with_the_readme_production_settings(tmp_path, built_static):
    env_lines = readme_env_lines()
    web = compose_web(tmp_path, env_lines)
    environment = web["environment"]
    assert environment["ALLOWED_HOSTS"] == "longtail.example.org" and environment["DEBUG"] == "0"
    assert environment["SECURE_SSL_REDIRECT"] == "1"  # the README's .env behind TLS, and the default
    server = WebContainer(tmp_path, web, built_static)
    try:
        result = server.run_healthcheck()
        assert result.returncode == 0, f"health check failed: {result.stdout}{result.stderr}\n{server.log()}"
        # What the check must not hide: plain HTTP is still redirected and a foreign Host refused.
        assert server.get("/accounts/login/", host="longtail.example.org")[0] == 301
        assert server.get("/accounts/login/", host="127.0.0.1", headers={"X-Forwarded-Proto": "https"})[0] == 400
        # A proxy's probe of /healthz over plain HTTP gets the answer, not a redirect.
        assert server.get("/healthz", host="longtail.example.org")[0] == 200
    finally:
        server.stop()


def test_the_health_check_passes_with_the_compose_defaults_and_fails_on_a_broken_image(tmp_path, built_static):
    """Only SECRET_KEY in .env (ALLOWED_HOSTS localhost,127.0.0.1 and the redirect on by default):
    healthy. The same server without a static manifest (a broken image) is reported unhealthy."""
    web = compose_web(tmp_path, [f"SECRET_KEY={secrets.token_urlsafe(40)}"])
    assert web["environment"]["ALLOWED_HOSTS"] == "localhost,127.0.0.1"
    assert web["environment"]["SECURE_SSL_REDIRECT"] == "1"
    (tmp_path / "good").mkdir()
    server = WebContainer(tmp_path / "good", web, built_static)
    try:
        result = server.run_healthcheck()
        assert result.returncode == 0, f"health check failed: {result.stdout}{result.stderr}\n{server.log()}"
    finally:
        server.stop()
    (tmp_path / "broken").mkdir()
    empty_static = tmp_path / "broken" / "static"
    empty_static.mkdir()
    broken = WebContainer(tmp_path / "broken", web, empty_static)
    try:
        result = broken.run_healthcheck()
        assert result.returncode != 0 and "answered 500" in result.stderr, result.stdout + result.stderr
    finally:
        broken.stop()


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [(m.group(1).upper(), m.group(2)) for m in re.finditer(r"^([A-Za-z]+)\s+(.*)$", text, flags=re.M)
            if not m.group(0).lstrip().startswith("#")]


def within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def test_the_image_gives_the_app_user_every_folder_compose_mounts_or_points_it_at():
    """A named volume takes its first ownership from the image's folder; a folder the image lacks
    is created root-owned and the app (USER longtail) could not write uploads or model files."""
    instructions = dockerfile_instructions()
    user = [arg for op, arg in instructions if op == "USER"][-1].strip()
    created, owned = set(), set()
    for op, arg in instructions:
        if op != "RUN":
            continue
        for command in re.split(r"&&|;", arg):
            words = shlex.split(command)
            if words[:2] == ["mkdir", "-p"]:
                created.update(words[2:])
            if words[:2] == ["chown", "-R"] and words[2].split(":")[0] == user:
                owned.update(words[3:])
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name in ("web", "worker-cpu", "worker-gpu"):
        service = compose["services"][name]
        targets = [v.split(":")[1] for v in service["volumes"] if v.split(":")[0] in compose["volumes"]]
        folders = targets + [service["environment"][key] for key in ("MEDIA_ROOT", "LONGTAIL_ARTIFACT_DIR")]
        for folder in folders:
            # mkdir -p makes every folder above the one it names
            assert any(within(path, folder) for path in created), (
                f"{name}: the image does not create {folder} (it makes {sorted(created)})")
            assert any(within(folder, top) for top in owned), (
                f"{name}: {folder} is not {user}'s in the image (chown -R {user} covers {sorted(owned)})")
