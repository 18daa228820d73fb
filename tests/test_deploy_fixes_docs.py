"""The README says what the product does: production defaults as config/settings.py and
docker-compose.yml set them, benchmark figures as bench/results holds them, and who may open the
Django admin as the demo's users find it."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.test import Client

from labeling.items.demo_data import ensure_users

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RESULTS = ROOT / "bench" / "results"


def readme() -> str:
    return README.read_text(encoding="utf-8")


def configuration_table() -> dict[str, tuple[str, str]]:
    """`variable` → (default, meaning) for every row of the README's configuration table."""
    text = readme()
    section = text[text.index("\n## Configuration\n"):text.index("\n## Running it in production\n")]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            for name in re.findall(r"`([A-Z_]+)`", cells[0]):
                rows[name] = (cells[1], cells[2])
    return rows


def production_settings(**env) -> dict:
    """The settings a DEBUG=0 process gets with only SECRET_KEY (and ``env``) set."""
    dropped = {"DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT", "CSRF_TRUSTED_ORIGINS",
               "DJANGO_ALLOW_ASYNC_UNSAFE"}
    environment = {k: v for k, v in os.environ.items() if k not in dropped}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", DEBUG="0", SECRET_KEY="x" * 50, **env)
    code = ("import django, json; django.setup(); from django.conf import settings as s; print(json.dumps({"
            "'ALLOWED_HOSTS': s.ALLOWED_HOSTS, 'SECURE_SSL_REDIRECT': s.SECURE_SSL_REDIRECT, "
            "'SECURE_REDIRECT_EXEMPT': s.SECURE_REDIRECT_EXEMPT, 'CSRF_TRUSTED_ORIGINS': s.CSRF_TRUSTED_ORIGINS}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_configuration_table_states_the_production_defaults():
    actual = production_settings()
    assert actual["ALLOWED_HOSTS"] == [] and actual["SECURE_SSL_REDIRECT"] is True
    assert actual["CSRF_TRUSTED_ORIGINS"] == [] and actual["SECURE_REDIRECT_EXEMPT"] == [r"^healthz$"]
    table = configuration_table()
    hosts_default = table["ALLOWED_HOSTS"][0]
    # The development default is stated as such, and DEBUG=0's (none) beside it.
    assert "`127.0.0.1,localhost` with `DEBUG` on" in hosts_default and "none with `DEBUG=0`" in hosts_default
    assert table["CSRF_TRUSTED_ORIGINS"][0] == "none"
    redirect_default = table["SECURE_SSL_REDIRECT"][0]
    assert "on with `DEBUG=0`" in redirect_default and "off with `DEBUG` on" in redirect_default
    # docker-compose.yml's defaults are the ones the table gives for it.
    environment = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["x-app"]["environment"]
    assert environment["SECURE_SSL_REDIRECT"] == "${SECURE_SSL_REDIRECT:-1}"
    assert "`docker-compose.yml` too" in redirect_default
    assert environment["ALLOWED_HOSTS"] == "${ALLOWED_HOSTS:-localhost,127.0.0.1}"
    assert "`docker-compose.yml` passes `localhost,127.0.0.1`" in hosts_default
    # SECURE_SSL_REDIRECT=0 turns it off (the try-out on http://localhost the README describes).
    assert production_settings(SECURE_SSL_REDIRECT="0")["SECURE_SSL_REDIRECT"] is False


def test_the_learner_benchmark_row_quotes_its_artefacts():
    """Each dataset's best head and the reference as bench/results/learner.json holds them, and every
    other figure in the row is one of the learner artefacts' macro-F1 values (seeds 0, 1, 2)."""
    row = next(line for line in readme().splitlines() if line.startswith("| learner, best head vs reference"))
    artefacts = [json.loads((RESULTS / name).read_text())
                 for name in ("learner.json", "learner_seed1.json", "learner_seed2.json")]
    seed0 = artefacts[0]["datasets"]
    named = [name for name in seed0 if re.search(rf"\b{name}\b", row)]
    assert {"banking77_longtail", "trec"} <= set(named), row
    for name in named:
        configs = seed0[name]["configs"]
        best = max(configs, key=lambda c: configs[c]["macro_f1"])
        stated = re.search(rf"{name} (\d\.\d+), ([\w/<+-]+)", row)
        assert stated and stated.group(2) == best and float(stated.group(1)) == round(configs[best]["macro_f1"], 3), (
            f"{name}: the row says {stated and stated.groups()}; learner.json's best is {best} "
            f"{configs[best]['macro_f1']:.4f}")
        reference = re.search(rf"{name}\b[^;|]*?reference (\d\.\d+)", row)
        assert reference and float(reference.group(1)) == round(seed0[name]["reference"]["macro_f1"], 3), (name, row)
    measured = {round(config["macro_f1"], 3) for artefact in artefacts for dataset in artefact["datasets"].values()
                for config in [*dataset["configs"].values(), dataset["reference"]]}
    figures = {float(f) for f in re.findall(r"\b0\.\d{3}\b", row.split("|")[2])}
    assert figures and figures <= measured, f"figures in no learner artefact: {sorted(figures - measured)}"


@pytest.mark.django_db
def test_step_one_offers_the_django_admin_only_to_admins():
    users = ensure_users()
    lead, admin = Client(), Client()
    lead.force_login(users["lead"][0])
    admin.force_login(users["admin"][0])
    assert lead.get("/admin/").status_code == 302  # sent to the admin's own sign-in: not staff
    assert admin.get("/admin/").status_code == 200
    step = re.search(r"^1\. \*\*A lead sets up a project\*\*.*?(?=^2\. )", readme(), flags=re.M | re.S).group(0)
    mention = step[:step.index("):")]
    assert "Django admin" in mention and "an admin can also use" in mention, mention
