import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args, env_extra):
    # DJANGO_ALLOW_ASYNC_UNSAFE is set by the browser tests' fixture; a deployment never has it.
    dropped = {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(env_extra)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_production_settings_pass_check_deploy():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING",
        env_extra={"DEBUG": "0", "SECRET_KEY": "x" * 20 + "prod-secret-key-with-enough-entropy-1234567890",
                   "ALLOWED_HOSTS": "longtail.example.org"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_secret_key():
    result = run_manage("check", env_extra={"DEBUG": "0", "ALLOWED_HOSTS": "x"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_hub_stays_offline_and_model_is_bundled():
    from django.conf import settings

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert Path(settings.LONGTAIL_MODEL_PATH).is_dir()


def test_embedded_defaults_use_sqlite_and_eager_celery():
    code = "import django,os;django.setup();from django.conf import settings as s;" \
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER)"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["django.db.backends.sqlite3", "True"], out.stderr


def test_configured_broker_is_never_bypassed():
    code = "import django;django.setup();from django.conf import settings as s;print(s.CELERY_TASK_ALWAYS_EAGER, s.CELERY_BROKER_URL)"
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", REDIS_URL="redis://127.0.0.1:6379/9")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["False", "redis://127.0.0.1:6379/9"], out.stderr
