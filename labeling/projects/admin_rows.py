"""Admin forms that save only what their page changed, as the lead pages do
(stale_edits.LoadedValuesMixin): a field left as the page showed it takes the value stored now, so
a lead's save made while the admin's page was open stands; a field both changed is refused with the
value stored now, naming it. The loaded values travel in a hidden field declared here, so that the
admin's fieldsets (built from the form's declared fields) render it."""
from django import forms

from .stale_edits import LOADED_VALUES, LoadedValuesMixin


class GuardedRowForm(LoadedValuesMixin, forms.ModelForm):
    loaded_values = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # guard_loaded_values adds it back, carrying the values stored now
            del self.fields[LOADED_VALUES]
        self.guard_loaded_values()
