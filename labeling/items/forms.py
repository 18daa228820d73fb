from django import forms


class ImportForm(forms.Form):
    file = forms.FileField(label="CSV or JSONL file", widget=forms.ClearableFileInput(attrs={"accept": ".csv,.jsonl,.ndjson,.json,.txt"}))
    skip_invalid = forms.BooleanField(
        required=False, label="Import the valid rows and set the invalid ones aside (with their reasons, to download)",
    )
