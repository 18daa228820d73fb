"""What a lead changed in a project's labels and sources between an import's check (pass 1,
labeling.items.validation) and its write (labeling.items.importer.write), read by the write under
its locks. Each change that makes a row mean something other than what was checked refuses the
import, naming the label or source at the first row that names it; the write reads the whole file
so that the refusal names every change, of every kind, at once:

- a label the file would create that a lead created meanwhile under another parent, or one that
  looks like it (``labels_created_meanwhile``);
- a label or source the check found that is gone (renamed or deleted): created again it would be
  a new top-level "Created by an import." label holding the file's answers;
- a label the check found that now sits elsewhere in the hierarchy than the row says: moved under
  another coarse label, or made coarse, while the row's coarse_label names its old parent; a
  coarse label the row gives as an answer, or as the parent of a new label, moved under another.
  A row without coarse_label that names a moved label is written: its answer is the label wherever
  a lead puts it, as a move just after the import would leave it."""
from __future__ import annotations

from labeling.projects.label_names import quoted_apart, spelled_out, written_out

from .look_alike import LOOK_ALIKE_FULL_RULE, look_alike_index, look_alike_key, shown_apart
from .readers import RowError
from .validation import Validation


class ChangedMeanwhile(Exception):
    """The project's labels or sources changed between validation and write so that the file's rows
    cannot be written as checked (``errors`` name the rows), or the batch was ended meanwhile (no
    errors: the importer's ``_finish`` says by whom)."""

    def __init__(self, errors: list[RowError]):
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors


def _again(kind: str) -> str:
    return (f"nothing was imported; import the file again to have its rows checked against the project's {kind}s as "
            "they are now")


def labels_created_meanwhile(v: Validation, labels: dict[str, str | None],
                             labels_at_validation: frozenset[str] = frozenset()) -> list[RowError]:
    """The file's new labels against the project's labels as the write finds them (``labels``: name →
    parent name, read under the label locks): a label a lead created since pass 1 that looks like
    one of them would make two look-alike labels, and one of the same name under another parent
    would put the file's answers where the file did not say; each is named at the first row that
    would create it. A label of the same name and parent is the file's: the write uses it. A name
    the project had at the check (``labels_at_validation``: the existing coarse label of a new fine
    one is listed with the new labels) was not created meanwhile: RowsAgainstProject tells whether
    it moved."""
    keys = look_alike_index(labels)
    errors = []
    for name, parent in v.new_labels.items():
        line, field_name = v.new_label_rows[name]
        if name in labels_at_validation:
            continue
        if name in labels:
            if labels[name] == parent:
                continue
            where = f"under {spelled_out(labels[name])}" if labels[name] else "as a coarse label"
            said = f"under '{written_out(parent)}'" if parent else "as a coarse label"
            problem = (f"the label '{written_out(name)}' was created {where} while the file was being checked; the "
                       f"file would create it {said}")
        elif (twin := keys.get(look_alike_key(name))) is not None:
            problem = (f"'{shown_apart(name)}' looks like the label {quoted_apart(twin)}, created while the file "
                       f"was being checked (label {LOOK_ALIKE_FULL_RULE})")
        else:
            continue
        errors.append(RowError(line, field_name, f"{problem}: {_again('label')}"))
    return sorted(errors, key=lambda error: error.line)


class RowsAgainstProject:
    """Each row the write reads, against the labels and sources it found under its locks: notes the
    first row naming each label or source that is gone or was moved (``note``); ``errors`` are all of
    them with the created-meanwhile ones, in file order."""

    def __init__(self, v: Validation, labels_at_validation: frozenset[str], parents: dict[str, str | None],
                 sources: set[str], created: list[RowError] = ()):
        self.v = v
        self.labels_at_validation = labels_at_validation
        self.parents = parents  # name -> parent name, of the project's labels as the write found them
        self.sources = sources
        self.created = list(created)
        self.found: dict[tuple[str, str], RowError] = {}  # (kind, name) -> the first row naming it

    @property
    def errors(self) -> list[RowError]:
        return sorted([*self.created, *self.found.values()], key=lambda error: error.line or 0)

    def _checked_existing(self, name: str) -> bool:
        """The check found ``name`` among the project's labels (not one the file creates)."""
        return name not in self.v.new_labels or name in self.labels_at_validation

    def note(self, line: int, values: dict) -> None:
        label, coarse = values.get("label"), values.get("coarse_label")
        answer = label or coarse
        new_parent = self.v.new_labels.get(answer) if answer in self.v.new_labels else None
        # The row's coarse label renamed or deleted is that, not a move of its fine label.
        coarse_gone = bool(label and coarse and coarse != label and self._checked_existing(coarse)
                           and coarse not in self.parents)
        if coarse_gone and ("label", coarse) not in self.found:
            self._gone(line, "label", coarse, "coarse_label")
        for name, field_name in ((answer, "label" if label else "coarse_label"), (new_parent, "coarse_label")):
            if name and ("label", name) not in self.found and self._checked_existing(name):
                if name not in self.parents:
                    self._gone(line, "label", name, field_name)
                elif coarse_gone:
                    continue
                elif problem := self._moved(name, label, coarse, is_new_parent=name == new_parent):
                    self.found["label", name] = RowError(line, "coarse_label", f"{problem}: {_again('label')}")
        source = values.get("source")
        if source and ("source", source) not in self.found and source not in self.v.new_sources \
                and source not in self.sources:
            self._gone(line, "source", source, "source")

    def _gone(self, line: int, kind: str, name: str, field_name: str) -> None:
        self.found[kind, name] = RowError(line, field_name, (
            f"the {kind} '{written_out(name)}' was renamed or deleted while the file was being checked: {_again(kind)}"))

    def _moved(self, name: str, label: str | None, coarse: str | None, *, is_new_parent: bool) -> str | None:
        """Why the row no longer matches where ``name`` sits now (None: it does), as pass 1 checked it."""
        parent = self.parents[name]
        moved = (f"the label '{written_out(name)}' was moved under '{written_out(parent)}'" if parent else
                 f"the label '{written_out(name)}' was made a coarse label")
        if is_new_parent or not label:  # the row gives it as a coarse label
            if parent is None:
                return None
            whose = f" (the parent of its new label '{written_out(label)}')" if is_new_parent and label else ""
            return f"{moved} while the file was being checked; the file gives it as a coarse label{whose}"
        if not coarse or coarse == parent or (parent is None and coarse == label):
            return None
        return f"{moved} while the file was being checked; the file's coarse_label says '{written_out(coarse)}'"
