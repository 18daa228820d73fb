"""The final model's fine-tuning options from the environment (LONGTAIL_FINETUNE), checked at
startup against learner.finetune.contrastive.FinetuneConfig rather than when a lead first trains a
final model. Every process reads the settings: that module is light (numpy; the training stack is
imported where it trains)."""
import typing

from config.env import SettingError, env_json_object
from learner.finetune.contrastive import FinetuneConfig

_JSON_KINDS = {int: "a whole number", float: "a number", str: "a string", type(None): "null"}


def checked_finetune_options(name: str) -> dict:
    """The JSON object of FinetuneConfig fields in ``name``, checked now (names, JSON types, then
    FinetuneConfig's own rules) rather than when a lead first trains a final model."""
    options = env_json_object(name)
    field_types = typing.get_type_hints(FinetuneConfig)
    unknown = sorted(set(options) - set(field_types))
    if unknown:
        raise SettingError(f"{name} has unknown option(s) {', '.join(map(repr, unknown))}; known: "
                           f"{', '.join(sorted(field_types))}")
    for key, value in options.items():
        allowed = typing.get_args(field_types[key]) or (field_types[key],)
        # JSON true/false are Python bools, which are ints; 2 is fine where a float is wanted.
        fits = not isinstance(value, bool) and (isinstance(value, allowed) or (float in allowed and isinstance(value, int)))
        if not fits:
            kinds = " or ".join(_JSON_KINDS.get(kind, kind.__name__) for kind in allowed)
            raise SettingError(f"{name} option {key!r} must be {kinds}, got {value!r}")
    try:
        FinetuneConfig.from_dict(options)
    except ValueError as error:
        raise SettingError(f"{name}: {error}") from None
    return options
