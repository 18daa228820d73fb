"""Upgrade effect of a7a4b09 (near-duplicate shingles of code points, not UTF-8 bytes): the band keys
ItemLsh stores for every non-ASCII item imported before the upgrade were cut from byte windows; the
import now cuts code-point windows, so no stored band key of such an item equals a key of a new text
and a near duplicate imported after the upgrade is never found (only ASCII keys were kept valid, see
tests/test_round38_uninames_dedup_keys.py). Nothing rebuilds the stored keys (no migration, no
command) and docs/operations.md "Upgrades" does not say to.

OLD_KEYS are the band keys the release before a7a4b09 (a4aa73d, labeling/items/dedup.py) computed for
GREEK_A: dedup.band_keys(dedup.signatures(dedup.shingle_hashes([GREEK_A]))) on that code."""
import importlib
import json
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import connection

from labeling.items.models import Item, ItemLsh
from labeling.items.services import import_path

GREEK_A = ("Καλησπέρα σας, η κάρτα μου χρεώθηκε δύο φορές για την ίδια παραγγελία και θέλω επιστροφή "
           "χρημάτων")
GREEK_B = ("Καλησπέρα σας, η κάρτα μου χρεώθηκε δύο φορές για την ίδια παραγγελία και ζητώ επιστροφή "
           "χρημάτων")
OLD_KEYS = [5745430074052521813, -2150658149196026474, 4980850172662512808, 2434072603360204642,
            -6657996033225897700, 2832077348165607016, 780134433226652019, 6429734345838134223,
            5424325890695824313, 2939654767931291420, 4880931093422947868, -1443118524780737779,
            -4627055826787571006, 328543026703034250, 2108785013841605579, -7833347427810620287]


def _import(project, tmp_path, name, text):
    path = tmp_path / name
    path.write_text(json.dumps({"text": text, "source": "web"}, ensure_ascii=False) + "\n", encoding="utf-8")
    result = import_path(project, path)
    assert result.ok, [e.format("f") for e in result.errors]


@pytest.mark.django_db
@pytest.mark.parametrize("stored_before_upgrade", [False, True])
def test_a_near_duplicate_of_an_item_imported_before_the_upgrade_is_found(project_factory, tmp_path,
                                                                         stored_before_upgrade):
    project = project_factory("lsh-upgrade", sources=("web",))
    _import(project, tmp_path, "first.jsonl", GREEK_A)
    first = Item.objects.get(project=project, text=GREEK_A)
    if stored_before_upgrade:  # the row the previous release wrote for this item, then the upgrade's migration
        ItemLsh.objects.filter(item=first).update(**{f"b{i}": key for i, key in enumerate(OLD_KEYS)})
        rebuild = importlib.import_module("labeling.items.migrations.0012_lsh_keys_non_ascii").rebuild_non_ascii_keys
        rebuild(django_apps, SimpleNamespace(connection=connection))
    _import(project, tmp_path, "second.jsonl", GREEK_B)
    second = Item.objects.get(project=project, text=GREEK_B)
    assert second.dup_group == first.dup_group, (
        "the near duplicate (similarity 0.94, over the 0.8 threshold) imported after the upgrade was not "
        "grouped with the item imported before it")
