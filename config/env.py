"""Reading settings from the environment (config/settings.py, config/gunicorn.conf.py).

Every reader treats a variable that is unset or empty (a `.env` line such as `LONGTAIL_EMBED_CHUNK=`)
as unset: the default applies. A value that cannot be what the setting needs raises SettingError,
whose message names the variable, says what it must be and shows what it got. Each process's entry
point (manage.py, config/wsgi.py, config/gunicorn.conf.py, config/celery.py) reads its settings
inside ``setting_errors_end_the_process``, so startup stops with that one line and no traceback, e.g.
`RuntimeError: LONGTAIL_LEASE_SECONDS must be a whole number, got 'abc'`.

Standard library only, so that config/gunicorn.conf.py can use it in gunicorn's master: importing
it runs config/__init__.py, which creates the Celery app object but loads neither the settings
nor Django's apps.
"""
import json
import math
import os
import re
import sys
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

# Longer values (a pasted JSON document) are cut in messages so that they stay one readable line.
_SHOWN_CHARS = 120


class SettingError(RuntimeError):
    """A setting's value that cannot be right; the message names the variable, the rule and the value."""


@contextmanager
def setting_errors_end_the_process(exit_status: int = 1) -> Iterator[None]:
    """Around the reading of a process's settings: a SettingError ends the process with its message
    on stderr (the line Python printed under the traceback before, which the docs quote) and
    ``exit_status``; no traceback, which would only show this module. Other exceptions pass."""
    try:
        yield
    except SettingError as error:
        print(f"RuntimeError: {error}", file=sys.stderr, flush=True)
        raise SystemExit(exit_status) from None


def shown(raw: str) -> str:
    """The value as a message quotes it: repr (escapes newlines and control characters), cut short."""
    text = repr(raw)
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…"


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def env_path(name: str, default: str | Path) -> Path:
    # An empty value would otherwise be Path(""), the current folder.
    return Path(env_str(name, str(default)))


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def env_bool(name: str, default: bool) -> bool:
    """On or off. Anything else stops startup: a typo such as SECURE_SSL_REDIRECT=flase must not
    quietly turn a protection off."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise SettingError(f"{name} must be one of {', '.join(_TRUE)} (on) or {', '.join(_FALSE)} (off), got {shown(raw)}")


def env_list(name: str, default: str) -> list[str]:
    """Comma-separated values; unset or empty: the default's."""
    return [part.strip() for part in env_str(name, default).split(",") if part.strip()]


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def _check_range(name: str, value: float, raw: str, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        raise SettingError(f"{name} must be between {_number(minimum)} and {_number(maximum)}, got {raw}")
    if minimum is not None and value < minimum:
        raise SettingError(f"{name} must be at least {_number(minimum)}, got {raw}")
    if maximum is not None and value > maximum:
        raise SettingError(f"{name} must be at most {_number(maximum)}, got {raw}")


def env_int(name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    """A whole number from the environment (unset or empty: the default). A value that is not one,
    or is outside minimum..maximum, stops startup with a message naming the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(f"{name} must be a whole number, got {shown(raw)}") from None
    _check_range(name, value, raw, minimum, maximum)
    return value


def env_float(name: str, default: float, *, minimum: float | None = None, above: float | None = None,
              maximum: float | None = None) -> float:
    """A number (decimals allowed) from the environment (unset or empty: the default). ``minimum``
    and ``maximum`` are inclusive; ``above`` is an exclusive lower bound (a duration that must not
    be 0). Not a finite number, or out of bounds: startup stops with a message naming the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(f"{name} must be a number, got {shown(raw)}") from None
    if not math.isfinite(value):
        raise SettingError(f"{name} must be a finite number, got {shown(raw)}")
    if above is not None and value <= above:
        raise SettingError(f"{name} must be above {_number(above)}, got {raw}")
    _check_range(name, value, raw, minimum, maximum)
    return value


def env_choice(name: str, default: str, choices: Collection[str], *, ignore_case: bool = False) -> str:
    """One of ``choices`` (unset or empty: the default); with ``ignore_case``, compared and
    returned in upper case (the choices are given so)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = raw.upper() if ignore_case else raw
    if value not in choices:
        raise SettingError(f"{name}={shown(raw)} is not one of {', '.join(choices)}")
    return value


def env_json_object(name: str) -> dict:
    """A JSON object such as {"epochs": 2} (unset or empty: {})."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise SettingError(f'{name} must be a JSON object such as {{"epochs": 2}}, got {shown(raw)} '
                           f"({error.msg} at character {error.pos})") from None
    if not isinstance(value, dict):
        raise SettingError(f'{name} must be a JSON object such as {{"epochs": 2}}, got a JSON '
                           f"{type(value).__name__}: {shown(raw)}")
    return value


# DRF's rate format (rest_framework.throttling.SimpleRateThrottle.parse_rate reads the first
# letter of the period). Checked here: a bad rate would otherwise fail each throttled request.
_THROTTLE_RATE = re.compile(r"[1-9][0-9]*/(s|secs?|seconds?|m|mins?|minutes?|h|hours?|d|days?)")


def env_rate(name: str, default: str) -> str:
    value = env_str(name, default)
    if not _THROTTLE_RATE.fullmatch(value):
        raise SettingError(f"{name} must be a rate such as 10/minute (a count, then /second, /minute, /hour or "
                           f"/day), got {shown(value)}")
    return value


def env_existing_dir(name: str, default: str) -> str:
    """A folder that must exist (unset or empty: the default, which is not checked)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not Path(raw).is_dir():
        what = "a file" if Path(raw).exists() else "no such folder"
        raise SettingError(f"{name} must name an existing folder, got {shown(raw)} ({what})")
    return raw
