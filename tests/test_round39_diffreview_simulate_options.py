"""``manage.py simulate``'s JSON options: today's fix refuses NaN in the number options
(--dev-fraction, --random-share) with a message naming the option, but the JSON options --planner and
--train still end in a traceback, and one field --planner lists as accepted always does:

* ``--planner '{"label_cap_share": 0.3}'`` (a field its own refusal names as allowed): TypeError
  "PlannerConfig.from_settings() got multiple values for keyword argument 'label_cap_share'";
* ``--train '{"C": NaN}'`` or ``'{"C": -1}'``: ValueError from the learner's config check, raised
  inside the first simulated retrain, after the data and the encoder were loaded.

A CommandError naming the option, before the run, is what the command gives for every other bad
value."""

import pytest
from django.core.management.base import CommandError

from tests.simulate_inputs import make_inputs, simulate


@pytest.fixture
def inputs(tmp_path, settings):
    return make_inputs(tmp_path, settings)


@pytest.mark.parametrize("option,value", [
    ("--planner", '{"label_cap_share": 0.3}'),
    ("--train", '{"C": NaN}'),
    ("--train", '{"C": -1}'),
])
def test_a_bad_json_option_is_refused_naming_it_not_a_traceback(inputs, option, value):
    tmp, data, vectors = inputs
    try:
        simulate(data, vectors, tmp / "out", option, value)
    except CommandError as refused:
        if option == "--planner":
            pytest.fail(f"--planner label_cap_share is a field the option lists as accepted, yet refused: {refused}")
        assert option in str(refused), str(refused)
        return
    except Exception as exc:  # noqa: BLE001 - what the defect is
        pytest.fail(f"{option} {value}: traceback {type(exc).__name__}: {exc}")
    if option == "--train":
        pytest.fail(f"{option} {value} was accepted")
