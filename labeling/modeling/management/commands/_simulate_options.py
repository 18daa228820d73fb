"""The checks ``manage.py simulate`` makes on its options and paths before any work (the data
set's encoding takes minutes on a real one): each refusal is a CommandError naming the option. A
leading underscore: Django does not take this module for a command."""
import argparse
import json
import math
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from labeling.projects.models import settings_errors
from labeling.projects.services import check_strategy_mix
from learner.planning.strategies import strategy

# The options that stand for a project's settings, checked by the product's own rules (the
# settings page's and API's words), by the setting's field name.
SETTING_OPTIONS = {"wave_size": "--wave-size", "random_share": "--random-share", "rare_threshold": "--rare-threshold"}
# What numpy's generators and scikit-learn's random_state take.
SEED_MAX = 2**32 - 1
NPY_MAGIC = b"\x93NUMPY"


def finite_float(value: str) -> float:
    """argparse's float without "nan" and "inf": NaN passes every range check (each comparison is
    False) and only failed in the planner, after the embedding, as a traceback."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"must be a finite number; got {value!r}")
    return number


def out_problem(out: Path) -> str | None:
    """Why ``--out`` cannot be the results folder, or None; checked before the embedding (minutes
    on a real set), since the folder is only created and written after it."""
    if out.exists() and not out.is_dir():
        return "is a file, not a folder; give a folder (it is created if missing)"
    if out.is_dir() and not os.access(out, os.W_OK | os.X_OK):
        return "the folder is not writable"
    existing = next((folder for folder in out.parents if folder.exists()), None)
    if existing is not None and not out.exists():
        if not existing.is_dir():
            return f"{existing} is a file, not a folder"
        if not os.access(existing, os.W_OK | os.X_OK):
            return f"the folder {existing} is not writable"
    return None


def _json_object(value: str, name: str, expected: str) -> dict:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--{name}: not valid JSON ({exc.msg})") from exc
    if not isinstance(parsed, dict):
        raise CommandError(f"--{name}: expected {expected}")
    return parsed


def _json_option(value: str, name: str) -> dict:
    expected = 'an object of shares, e.g. {"rare": 0.4}'
    parsed = _json_object(value, name, expected)
    if not all(isinstance(v, int | float) for v in parsed.values()):
        raise CommandError(f"--{name}: expected {expected}")
    return parsed


def check_planner_settings(config, *, mix_given: bool) -> None:
    """Refuse, naming the option, the planner settings a project could not have: the settings'
    ranges (random share within [0, 1], ...) and, for the "default" preset that uses them, the
    strategy shares plus the random share adding up to 1, all by the product's own checks. A
    random share of 2 would otherwise plan waves twice the wave size. The cold-start mix, which no
    project setting exposes, splits what the random slice leaves by relative weight (the
    default's shares add up to 1 on their own): its names must be strategies and its shares
    within [0, 1], not all 0."""
    errors = settings_errors(SimpleNamespace(wave_size=config.wave_size, random_share=config.random_share,
                                             rare_threshold=config.rare_threshold))
    for field, option in SETTING_OPTIONS.items():
        if field in errors:
            raise CommandError(f"{option}: {errors[field]}")
    if config.strategy == "default" or mix_given:
        try:
            check_strategy_mix(config.strategy_mix, config.random_share)
        except ValidationError as exc:
            message = " ".join(exc.message_dict.get("strategy_mix", exc.messages))
            raise CommandError(f"--mix: {message}" if mix_given else f"--random-share: {message} "
                               f"(with the default mix {json.dumps(config.strategy_mix)})") from exc
    for name, share in config.cold_start_mix.items():
        try:
            strategy(name)
        except ValueError as exc:
            raise CommandError(f"--cold-start-mix: {exc}") from exc
        if not 0 <= float(share) <= 1:
            raise CommandError(f"--cold-start-mix: the share of {name} must be between 0 and 1; got {share:g}.")
    if config.cold_start_mix and not any(float(share) > 0 for share in config.cold_start_mix.values()):
        raise CommandError("--cold-start-mix: give at least one strategy a share above 0.")


def check_seed(seed: int) -> None:
    """--seed within what numpy's generators and scikit-learn's random_state take: -1 ended, after
    the encoding, in numpy's "expected non-negative integer", 2**32 in scikit-learn's check."""
    if not 0 <= seed <= SEED_MAX:
        raise CommandError(f"--seed must be between 0 and {SEED_MAX}; got {seed}")


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as an input file, or None."""
    if path.is_dir():
        return "is a folder, not a file"
    if not path.is_file():
        return "no such file"
    return None


def check_cache_folder(cache_dir: Path, given: bool) -> None:
    """The embedding cache folder passes --out's checks before the encoding, which writes to it: a
    file there ended in FileExistsError / NotADirectoryError tracebacks after the encoding."""
    if problem := out_problem(cache_dir):
        where = "" if given else " (the default, LONGTAIL_ARTIFACT_DIR/emb-cache)"
        raise CommandError(f"--embedding-cache {cache_dir}{where}: {problem}.")


def load_npy(path: Path) -> np.ndarray:
    """The --embeddings array: a .npy file (numpy.save's format), never pickled objects. numpy's own
    message for another file (a CSV) is advice to load it with allow_pickle."""
    if problem := file_problem(path):
        raise CommandError(f"--embeddings {path}: {problem}")
    try:
        with path.open("rb") as fh:
            magic = fh.read(len(NPY_MAGIC))
        if magic != NPY_MAGIC:
            raise CommandError(f"--embeddings {path}: not a .npy array file (numpy.save's format); save the "
                               "row-aligned float32 embeddings with numpy.save")
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        reason = ("holds Python objects, not a numeric array" if "pickle" in str(exc)
                  else getattr(exc, "strerror", None) or str(exc))
        raise CommandError(f"--embeddings {path}: {reason}") from exc
