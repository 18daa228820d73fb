"""docker-compose.yml: validated by the real docker-compose when present, and structurally always."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text())


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose binary not installed")
def test_docker_compose_config_accepts_the_file():
    env = dict(os.environ, SECRET_KEY="compose-test-secret")
    for extra in ([], ["--profile", "gpu"]):
        result = subprocess.run(["docker-compose", "-f", str(COMPOSE), *extra, "config", "-q"],
                                cwd=ROOT, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_services_volumes_and_health_checks(compose):
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker-cpu", "worker-gpu"} <= set(services)
    for name in ("postgres", "redis", "web", "worker-cpu", "worker-gpu"):
        assert "healthcheck" in services[name], f"{name} has no health check"
    assert {"pgdata", "redisdata", "artifacts"} <= set(compose["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]


def test_web_runs_gunicorn_and_waits_for_healthy_services(compose):
    web = compose["services"]["web"]
    assert "gunicorn config.wsgi:application" in web["command"]
    assert web["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert web["depends_on"]["redis"]["condition"] == "service_healthy"
    assert web["environment"]["DEBUG"] == "0"
    assert web["environment"]["HF_HUB_OFFLINE"] == "1"


def test_gpu_worker_has_its_own_queue_and_an_nvidia_reservation(compose):
    gpu = compose["services"]["worker-gpu"]
    cpu = compose["services"]["worker-cpu"]
    queues = gpu["command"][gpu["command"].index("-Q") + 1].split(",")
    assert "train" in queues
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert "celery" in cpu["command"] and "deploy" not in cpu
