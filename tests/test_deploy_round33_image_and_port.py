"""What the production image and the published port must not give away: the build context leaves
out the environment file and the backups docs/operations.md writes into the compose folder (the
Dockerfile copies the whole folder), and the web port is published on the host's loopback only,
where the TLS proxy reaches it (published everywhere, a client skips the proxy and writes its own
X-Forwarded-For, which the per-address sign-in throttle would count)."""
import fnmatch
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")


def ignored(name: str) -> bool:
    """Whether a file at the top of the build context is left out: .dockerignore's patterns as Docker
    matches a top-level name (Go's filepath.Match; a later ``!`` pattern takes a file back)."""
    out = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        if fnmatch.fnmatchcase(name, pattern.lstrip("!").lstrip("/").removeprefix("**/")):
            out = not negate
    return out


def test_the_build_context_leaves_out_the_environment_file_and_the_documented_backups():
    backups = re.findall(r"> (\S+)-\$\(date \+%F\)\.(\w+)", DOCS) + re.findall(r"/backup/(\S+)-\$\(date \+%F\)\.(\w+)", DOCS)
    assert {ext for _, ext in backups} == {"dump", "tgz"}, backups  # the commands the test reads are still there
    for stem, ext in backups:
        assert ignored(f"{stem}-2026-01-31.{ext}"), f"{stem}-….{ext} would be copied into the image"
    for name in (".env", ".env.production", "longtail-2026-01-31.dump", "artifacts-2026-01-31.tgz", "dump.sql"):
        assert ignored(name), f"{name} would be copied into the image"
    for name in ("manage.py", "labeling", "config", "requirements.txt", "templates", "static"):
        assert not ignored(name), f"{name} is needed in the image"


def test_the_web_port_is_published_on_the_loopback_only():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
