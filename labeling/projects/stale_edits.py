"""Lead pages that save only what their lead changed. Each form carries the values its page was
loaded with (LoadedValuesMixin, one hidden JSON field): a field left as the page showed it takes
the value stored now, so another lead's save stands; a field changed here that someone else also
changed since the page loaded is refused with the value stored now. A formset of page rows
(PageRowsMixin) also refuses a row deleted by someone else, saying so."""
import json

from django import forms
from django.core.exceptions import ValidationError

from config.parsers import MAX_DEPTH, nesting_depth

from .label_names import spelled_out, written_out

LOADED_VALUES = "loaded_values"  # the hidden field a page's form carries its loaded values in
SHOWN_MAX = 200  # characters of a stored value quoted back in a message
# A page writes its loaded values as one flat object. One nested past the API's bound (or past
# Python's recursion limit, where json.loads raises RecursionError) was written by hand: refused,
# as the API refuses such a body, rather than a 500.
LOADED_VALUES_TOO_DEEP = ("The page's hidden record of the values it loaded (loaded_values) is nested too "
                          "deeply to read; nothing was saved. Reload the page and make your changes again.")


class NestedTooDeeply(ValueError):
    """JSON nested past what is read (config.parsers.MAX_DEPTH levels, or the recursion limit)."""


def load_json(text: str):
    """``json.loads`` that raises NestedTooDeeply for JSON nested too deeply to read (the plain
    one raises RecursionError, a 500) and ValueError for any other unreadable text."""
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise NestedTooDeeply(text[:20]) from exc
    if nesting_depth(value) > MAX_DEPTH:
        raise NestedTooDeeply(text[:20])
    return value


def _as_posted(field, value) -> str:
    """A stored value as the field's widget posts it back (a tick box: "True" / "False")."""
    return "" if (value := field.prepare_value(value)) is None else str(value)


def _differs(field, posted, other) -> bool:
    """Whether two posted values of ``field`` mean different things ("0.5" and "0.50" do not)."""
    if isinstance(field, forms.ModelChoiceField):
        return field.has_changed(posted, other)  # compares primary keys, without a query
    # Browsers post a textarea's line breaks as CRLF; text stored through the API holds LF.
    posted, other = (v.replace("\r\n", "\n") if isinstance(v, str) else v for v in (posted, other))
    try:
        value = field.to_python(posted)
    except ValidationError:
        return posted != other
    return field.has_changed(value, other)


def _shown(field, posted: str) -> str:
    """A stored value (as posted) the way the page shows it, for a message."""
    if isinstance(field, forms.ModelChoiceField):
        posted = str(field.queryset.filter(pk=posted).first() or "") if posted else ""
    elif isinstance(field, forms.BooleanField):
        return "ticked" if field.to_python(posted) else "not ticked"
    elif isinstance(field, forms.ChoiceField):
        posted = str(dict(field.choices).get(posted, posted))
    return (posted[:SHOWN_MAX] + "…" if len(posted) > SHOWN_MAX else posted) or "empty"


class LoadedValuesMixin:
    """A form of a stored row that carries the values its page loaded with (one hidden field, JSON),
    so a save does not undo another lead's later save. A field left as the page showed it takes the
    value stored now. A field changed here that someone else changed meanwhile to another value is
    refused with the stored value (a lead sees a colleague's change before overwriting it); the page
    then carries the stored values, so saving again keeps this lead's entry, knowingly. A post
    without the hidden field (a script) counts as loaded with the stored values. ``edited``: fields
    changed on the page; ``stale``: {field: stored value} of those refused."""

    def guard_loaded_values(self):
        self.edited, self.stale, self.loaded_values_too_deep = set(), {}, False
        if not self.instance.pk:
            return  # a new row: nothing stored to compare with
        names = list(self.fields)
        stored = {name: _as_posted(self.fields[name], self.get_initial_for_field(self.fields[name], name))
                  for name in names}
        self.fields[LOADED_VALUES] = forms.CharField(widget=forms.HiddenInput, required=False)
        self.initial[LOADED_VALUES] = json.dumps(stored)
        if not self.is_bound:
            return
        loaded = self._posted_loaded_values()
        data = self.data.copy()
        for name in names:
            field, posted = self.fields[name], self[name].data
            shown = loaded.get(name, stored[name])
            if not _differs(field, shown, posted):
                data[self.add_prefix(name)] = stored[name]
                continue
            self.edited.add(name)
            if _differs(field, stored[name], shown) and _differs(field, stored[name], posted):
                self.stale[name] = stored[name]
        data[self.add_prefix(LOADED_VALUES)] = json.dumps(stored)
        self.data = data

    def _posted_loaded_values(self) -> dict:
        try:  # a hidden field edited by hand counts as loaded with the stored values
            loaded = load_json(self.data.get(self.add_prefix(LOADED_VALUES)) or "{}")
        except NestedTooDeeply:
            self.loaded_values_too_deep = True  # refused in clean(): see LOADED_VALUES_TOO_DEEP
            return {}
        except ValueError:
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def saved_meanwhile(self) -> bool:
        """Whether the save was refused because someone else changed a field changed here (409)."""
        return bool(self.stale)

    def clean(self):
        if self.loaded_values_too_deep:
            self.add_error(None, LOADED_VALUES_TOO_DEEP)
        for name, value in self.stale.items():
            field = self.fields[name]
            self.add_error(name, f"{field.label}: changed by someone else since this page loaded; it is now "
                                 f"“{_shown(field, value)}”. Save again to replace it with yours.")
        return super().clean()

    def row_errors(self) -> list[str]:
        """Errors of the row as a whole and of its hidden fields (the page shows them under the row)."""
        return [*self.non_field_errors(), *(e for bound in self.hidden_fields() for e in bound.errors)]


class PageRowsMixin:
    """A formset of a lead page's rows (labels, sources) that refuses a stale page, saying why: a
    row deleted by someone else since the page loaded (not a bare "Select a valid choice" on a
    hidden field), or a field two leads changed (LoadedValuesMixin)."""

    thing = "row"

    def add_fields(self, form, index):
        super().add_fields(form, index)
        form.fields[self.model._meta.pk.name].error_messages["invalid_choice"] = (
            f"This {self.thing} was deleted by someone else since this page loaded.")

    def gone_rows(self):
        """Rows the page showed whose object is no longer this project's (not those ticked for deletion)."""
        return [form for form in self.forms[:self.initial_form_count()]
                if not form.instance.pk and not (self.can_delete and self._should_delete_form(form))]

    def stale_problems(self) -> list[str]:
        problems = [f"The {self.thing} {spelled_out(form.data.get(form.add_prefix('name'), ''))} was deleted by someone else "
                    f"since this page loaded; nothing was saved. Reload the page to see the {self.thing}s as they are now."
                    for form in self.gone_rows()]
        stale = [f"{written_out(form.initial.get('name') or '')}: {', '.join(str(form.fields[n].label) for n in form.stale)}"
                 for form in self.forms if getattr(form, "stale", None)]
        if stale:
            problems.append(f"Nothing was saved: someone else changed what you changed since this page loaded "
                            f"({'; '.join(stale)}). Each field says what is stored now.")
        return problems

    def saved_meanwhile(self) -> bool:
        """Whether the page was refused because someone else saved since it loaded (the view answers 409)."""
        return self.is_bound and bool(self.stale_problems())

    def clean(self):
        super().clean()
        problems = self.stale_problems()
        if problems:
            raise ValidationError(problems)
