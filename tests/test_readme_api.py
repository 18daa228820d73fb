"""The README's API section lists every endpoint of the OpenAPI schema, each bullet with a curl
example, and the schema documents each endpoint's error answers."""
import re
from pathlib import Path

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
README = Path(__file__).resolve().parent.parent / "README.md"
PLACEHOLDERS = {"{slug}": "<slug>", "{id}": "<id>", "{item_id}": "<id>", "{number}": "<number>",
                "{batch_id}": "<batch_id>", "{fmt}": "<csv|jsonl>"}


def api_section() -> str:
    text = README.read_text(encoding="utf-8")
    return text[text.index("\n## API\n"):text.index("\n## Export\n")]


def test_readme_lists_every_endpoint_with_a_curl_example(world):
    api = APIClient()
    api.force_authenticate(world["lead"])
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    section = api_section()
    bullets = re.findall(r"^- `.*?(?=^- |^\*\*|\Z)", section, flags=re.M | re.S)
    assert len(bullets) >= 30
    assert [b.splitlines()[0] for b in bullets if "curl " not in b] == []
    missing = []
    for path, operations in schema["paths"].items():
        shown = path
        for key, value in PLACEHOLDERS.items():
            shown = shown.replace(key, value)
        mine = [b for b in bullets if f"{shown}`" in b]
        for method, operation in operations.items():
            if not any(re.search(rf"\b{method.upper()}\b", b) for b in mine):
                missing.append(f"{method.upper()} {path}")
            codes = set(operation["responses"])
            assert codes & {"400", "401", "403", "404", "409", "429"}, (method, path, codes)
    assert not missing, f"endpoints the README's API section does not list: {missing}"
