"""Predict after a fine label was moved to top level under the active model: its taxonomy_note said
"'billing' is under 'billing' now; the model learned it under 'Money' …" (a top-level label is its
own branch, so its coarse label is itself). It says the label is a top-level label now."""
import pytest

from labeling.projects.models import Label

from .test_predict import world  # noqa: F401 (fixture)
from .test_round37_fix10_predict_taxonomy import BILLING, _predict, _trained

pytestmark = pytest.mark.django_db


def test_a_label_moved_to_top_level_says_it_is_top_level_now(world):  # noqa: F811
    alpha = world["alpha"]
    _trained(alpha, world["annotator"])
    Label.objects.filter(project=alpha, name="billing").update(parent=None)
    row = _predict(world, BILLING)[0]
    assert (row["label"], row["coarse_label"]) == ("billing", "billing"), row
    assert row["taxonomy_note"] == ("'billing' is a top-level label now; the model learned it under 'Money' and "
                                    "learns the new taxonomy at the next retrain"), row

