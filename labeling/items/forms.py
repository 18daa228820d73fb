from django import forms


class ImportForm(forms.Form):
    file = forms.FileField(label="CSV, TSV or JSONL file",
                           widget=forms.ClearableFileInput(attrs={"accept": ".csv,.tsv,.jsonl,.ndjson,.json,.txt"}))
    skip_invalid = forms.BooleanField(
        required=False, label="Import the valid rows and set the invalid ones aside (with their reasons, to download)",
    )
