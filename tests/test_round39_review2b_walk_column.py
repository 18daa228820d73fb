"""The item browser page during a confidence walk across a retrain: page 2 is chosen and ordered by the
model the walk started with (the cursor pins it), but its Predicted label and confidence column, and
the line above the table ("the active model's (vN)"), are the new active model's. A lead who filtered
"predicted fraud, confidence at most 0.5" reads, on page 2, rows that say "billing 0.90": the rows look
as if the filter were broken, and nothing on the page says which model chose them."""
import re

import pytest
from django.test import Client

from labeling.modeling.models import ModelVersion
from labeling.modeling.versions import activate_version

from .test_browse_helpers import make_item, score

pytestmark = pytest.mark.django_db

CELL = re.compile(r'<span class="label-name" title="[^"]*">([^<]+)</span>\s*<span class="muted small">([0-9.]+)</span>')


def test_page_two_of_a_filtered_walk_shows_the_figures_it_was_chosen_by(world):
    project = world["alpha"]
    email = project.sources.get(name="email")
    items = [make_item(project, f"ticket number {i}", source=email) for i in range(30)]
    labels = ["billing", "fraud", "login"]
    v1 = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE, label_map=labels)
    v2 = ModelVersion.objects.create(project=project, number=2, state=ModelVersion.READY, label_map=labels)
    for i, item in enumerate(items):
        score(item, v1, 1, 0.35 + i / 200)  # v1: fraud, unsure (0.35 … 0.50)
        score(item, v2, 0, 0.9)              # v2: billing, sure
    client = Client()
    client.force_login(world["lead"])
    first = client.get("/p/alpha/items/", {"predicted": "fraud", "max_confidence": "0.5",
                                           "sort": "confidence_asc", "page_size": 10})
    assert first.status_code == 200
    html = first.content.decode()
    assert CELL.findall(html)[0] == ("fraud", "0.35")
    next_url = re.search(r'href="([^"]*cursor=[^"]*)"[^>]*>\s*Next', html) or re.search(
        r'<a[^>]*href="([^"]*cursor=[^"]*)"', html)
    assert next_url, "no next page link"
    activate_version(v2)  # the retrain finishes while the lead reads page 1
    second = client.get(next_url.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    shown = CELL.findall(second.content.decode())
    assert shown, "page 2 lists no rows"
    wrong = [cell for cell in shown if cell[0] != "fraud" or float(cell[1]) > 0.5]
    assert not wrong, (f"page 2 of the walk filtered to predicted fraud, confidence ≤ 0.5 shows {wrong[:3]} "
                       f"(the new model's figures) on rows the old model chose")
