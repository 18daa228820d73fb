"""The web service runs gunicorn with config/gunicorn.conf.py (image and compose), whose
post_worker_init warms each worker up through config.wsgi.warm_up before it takes requests
(bench/first_predict_bench.py measures the first predict with and without it)."""
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_config_reads_the_environment(monkeypatch):
    monkeypatch.setenv("GUNICORN_WORKERS", "5")
    monkeypatch.setenv("GUNICORN_BIND", "127.0.0.1:9999")
    conf = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    assert conf["workers"] == 5 and conf["bind"] == "127.0.0.1:9999" and conf["preload_app"] is False
    assert callable(conf["post_worker_init"]) and conf["WARM"] is True
    monkeypatch.setenv("LONGTAIL_WARM_ENCODER", "0")
    assert runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))["WARM"] is False


def test_post_worker_init_warms_the_encoder_and_active_models(db):
    import config.wsgi  # noqa: F401 - what the gunicorn worker has loaded when post_worker_init runs

    conf = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    logged = []

    class Log:
        def info(self, *args):
            logged.append(args)

        exception = info

    conf["post_worker_init"](type("Worker", (), {"pid": 1, "log": Log()})())
    message, pid, seconds, timings = logged[0]
    assert "warmed up" in message and timings["encoder_s"] >= 0 and timings["models"] == 0


def test_image_and_compose_use_the_config():
    assert '"-c", "config/gunicorn.conf.py"' in (ROOT / "Dockerfile").read_text()
    assert "-c config/gunicorn.conf.py" in (ROOT / "docker-compose.yml").read_text()
