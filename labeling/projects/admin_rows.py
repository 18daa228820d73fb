"""Admin forms that save only what their page changed, as the lead pages do
(stale_edits.LoadedValuesMixin): a field left as the page showed it takes the value stored now, so
a lead's save made while the admin's page was open stands; a field both changed is refused with the
value stored now, naming it. The loaded values travel in a hidden field declared here, so that the
admin's fieldsets (built from the form's declared fields) render it."""
from django import forms
from django.core.exceptions import ValidationError

from .label_names import composed_name
from .stale_edits import LOADED_VALUES, LoadedValuesMixin, NestedTooDeeply, load_json


class ComposedNames:
    """A name (a label's, a source's, a project's) stored composed (NFC), as the pages, the API and
    the import store it ("O" + U+0308 pasted from macOS is "Ö"). A name posted back as stored is kept:
    one that projects migration 0017 left decomposed beside its composed twin stays editable."""

    def clean_name(self):
        name = self.cleaned_data.get("name")
        if not isinstance(name, str) or (self.instance.pk and name == self.instance.name):
            return name
        return composed_name(name)


class GuardedRowForm(ComposedNames, LoadedValuesMixin, forms.ModelForm):
    loaded_values = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # guard_loaded_values adds it back, carrying the values stored now
            del self.fields[LOADED_VALUES]
        self.guard_loaded_values()


class ReadableJSONField(forms.JSONField):
    """Django's JSON form field, except that JSON nested too deeply to read is the field's error:
    Django's catches only JSONDecodeError, and json.loads raises RecursionError for a few thousand
    brackets (a 500, also when the page re-renders the posted text)."""

    default_error_messages = {"too_deep": "This JSON is nested too deeply to read: a setting here holds a "
                                          "list of names or a small object, a few levels at most."}

    def to_python(self, value):
        if not self.disabled and isinstance(value, str):
            try:
                load_json(value)
            except NestedTooDeeply as exc:
                raise ValidationError(self.error_messages["too_deep"], code="too_deep") from exc
            except ValueError:
                pass  # Django's own message for JSON it cannot read
        return super().to_python(value)

    def bound_data(self, data, initial):
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return forms.fields.InvalidJSONInput(data)  # shown back as posted, as Django does unreadable JSON
