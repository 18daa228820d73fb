"""Admin forms that save only what their page changed, as the lead pages do
(stale_edits.LoadedValuesMixin): a field left as the page showed it takes the value stored now, so
a lead's save made while the admin's page was open stands; a field both changed is refused with the
value stored now, naming it. The loaded values travel in a hidden field declared here, so that the
admin's fieldsets (built from the form's declared fields) render it."""
from django import forms

from .label_names import composed_name
from .stale_edits import LOADED_VALUES, LoadedValuesMixin


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
