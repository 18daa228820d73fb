"""Forms of the lead pages. Cross-row checks (quota total, unique hotkeys, strategy mix) call the
same functions as the API, in services.py. The settings, labels and sources pages carry the values
they were loaded with (LoadedValuesMixin), so a page saves what its lead changed and nothing else."""
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms import BaseModelFormSet, modelformset_factory
from django.forms.formsets import TOTAL_FORM_COUNT
from django.http import QueryDict
from django.utils.functional import cached_property

from labeling.annotations.context import metadata_keys
from learner.planning.strategies import STRATEGIES as STRATEGY_REGISTRY
from learner.rules import compile_rule

from . import services
from .hotkeys import HotkeyField
from .label_names import look_alike_key, quoted_apart
from .models import SETTING_NAMES, Label, Membership, Project, Rule, Source
from .overlap import MAX_OVERLAP
from .reserved import new_slug_problem
from .row_renderer import RowRenderer
from .stale_edits import LoadedValuesMixin, PageRowsMixin

PARENT_CHOICES_ID = "label-parent-choices"  # the page's one list of the parents a label row may take


class ProjectCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(help_text="Short name used in addresses, e.g. support-tickets.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    labels = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "billing\nbilling > refund\nbilling > invoice\nlogin"}),
        required=False,
        help_text="One label per line; “billing > refund” makes refund a fine label under billing. "
                  "Hotkeys 1–9, then letters other than the review page's j k x a d r, go to top-level labels first, "
                  "then to fine labels, each in this order; edit details afterwards.")
    other_label = forms.BooleanField(
        required=False, initial=True, label="Add an “Other” label (hotkey 0) for items no label fits",
        help_text="A line named Other is used as that label instead.")
    sources = forms.CharField(required=False, help_text="Comma-separated source names; quotas start equal.")

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        if problem := new_slug_problem(slug):  # the service checks it again, in its transaction
            raise ValidationError(problem)
        return slug

    def clean_labels(self):
        text = self.cleaned_data.get("labels", "")
        try:
            services.parse_label_lines(text.splitlines())
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["labels"]) from None
        return text

    def label_names(self) -> list[str]:
        """The label lines as typed (services.create_project reads the hierarchy syntax)."""
        return [line.strip() for line in self.cleaned_data.get("labels", "").splitlines() if line.strip()]

    def source_names(self) -> list[str]:
        # Comma-separated; a pasted line break separates too (create_project splits lines as well).
        return [part.strip() for line in self.cleaned_data.get("sources", "").splitlines()
                for part in line.split(",") if part.strip()]


class ProjectSettingsForm(LoadedValuesMixin, forms.ModelForm):

    class Meta:
        model = Project
        fields = [f for f in services.SETTINGS_FIELDS if f != "strategy_mix"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2}),
                   "guidelines": forms.Textarea(attrs={"rows": 4})}

    annotator_metadata = forms.CharField(
        required=False, label="Metadata shown to annotators", widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Metadata fields (columns of the import) shown with each item, in this order: comma-separated, "
                  "or one per line; a line that is exactly a field's name (one holding a comma) is kept whole.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        shown = self.instance.annotator_metadata or []
        self.initial["annotator_metadata"] = ("\n" if any("," in key for key in shown) else ", ").join(shown)
        mix = self.instance.strategy_mix or {}
        # One share field per strategy the registry lets leads set (learner.planning.strategies).
        for name in services.STRATEGIES:
            entry = STRATEGY_REGISTRY[name]
            self.fields[f"mix_{name}"] = forms.FloatField(
                min_value=0, max_value=1, initial=mix.get(name, 0.0), required=False,
                label=f"{name.replace('_', ' ').capitalize()} share", help_text=entry.description)
        for name, label in SETTING_NAMES.items():
            if name in self.fields:
                self.fields[name].label = label
        # The browser's range for the overlap is the model's (settings_errors says why, on save).
        self.fields["overlap"].widget.attrs.update(min=1, max=MAX_OVERLAP)
        self.guard_loaded_values()

    def clean_annotator_metadata(self):
        # Comma-separated; a line that is exactly a field name (one chosen, or one the items have) stays
        # whole, a lone line too, so a field whose name holds a comma can be chosen by itself.
        lines = [line.strip() for line in (self.cleaned_data.get("annotator_metadata") or "").splitlines()]
        known = set(self.instance.annotator_metadata or []) | set(metadata_keys(self.instance))
        parts = [part.strip() for line in lines for part in ([line] if line in known else line.split(","))]
        return list(dict.fromkeys(part for part in parts if part))

    @property
    def mix_fields(self):
        return [self[f"mix_{name}"] for name in services.STRATEGIES]

    def clean(self):
        # The range and order checks are the model's (models.settings_errors, run by the
        # ModelForm's model validation); the strategy mix total is checked here, as the API does.
        data = super().clean()
        # A share that is not a number has its own error: counted as 0 it would add a false total.
        if any(self.has_error(f"mix_{name}") for name in services.STRATEGIES):
            return data
        mix = {name: data.get(f"mix_{name}") or 0.0 for name in services.STRATEGIES}
        if data.get("random_share") is not None:
            try:
                # A strategy with no share is not in the mix (the form lists every settable one).
                data["strategy_mix"] = {k: v for k, v in services.check_strategy_mix(mix, data["random_share"]).items()
                                        if v > 0}
            except ValidationError as exc:
                self.add_error(None, exc.message_dict["strategy_mix"])
        return data

    def error_summary(self) -> list[tuple[str, str]]:
        """(field, message) of every error, each message naming its field."""
        rows = [("", message) for message in self.non_field_errors()]
        for name, messages in self.errors.items():
            if name == NON_FIELD_ERRORS:
                continue
            label = str(self.fields[name].label) if name in self.fields else name
            rows += [(name, m if m.startswith(label) else f"{label}: {m}") for m in messages]
        return rows

    def changes(self) -> dict:
        """Only the settings changed on this page: another lead's later save of the others stands."""
        data = {field: self.cleaned_data[field] for field in self.Meta.fields if field in self.edited}
        if any(f"mix_{name}" in self.edited for name in services.STRATEGIES):
            data["strategy_mix"] = self.cleaned_data["strategy_mix"]
        return data


# The labels page saves at most this many rows at once (stored labels plus the new row), each of up to
# LABEL_ROW_FIELDS fields (config/settings.py DATA_UPLOAD_MAX_NUMBER_FIELDS is sized for them).
LABELS_PAGE_MAX_ROWS = 1000
LABEL_ROW_FIELDS = 11  # id, loaded values, the 8 fields of LabelForm.Meta, delete


class ParentSelect(forms.Select):
    """A label row's parent <select> holding only the empty choice and the row's current parent: the
    page lists the project's top-level labels once (BaseLabelFormSet.parent_choices, in a <template>),
    and lead.js copies them into a row's list when the lead opens it. A full list in every row made
    the page quadratic in the number of labels (300 labels: 90,000 options, 4 MB, 30 s)."""

    def __init__(self, attrs=None, names=None):
        super().__init__(attrs)
        self.names = names or {}  # top-level label id -> name, read once for the whole page

    def optgroups(self, name, value, attrs=None):
        current = next((str(v) for v in value if v not in (None, "")), "")
        # A posted id that is no top-level label of the project is shown as sent (the field says why).
        choices = [("", "---------")] + ([(current, self.names.get(current, current))] if current else [])
        return [(None, [self.create_option(name, choice, label, choice == current, index, attrs=attrs)], index)
                for index, (choice, label) in enumerate(choices)]


class LabelForm(LoadedValuesMixin, forms.ModelForm):
    class Meta:
        model = Label
        fields = ["name", "description", "hotkey", "parent", "precision_target", "recall_target", "is_other", "order"]
        field_classes = {"hotkey": HotkeyField}
        widgets = {"description": forms.Textarea(attrs={"rows": 1})}

    def __init__(self, *args, project=None, parent_names=None, **kwargs):
        super().__init__(*args, **kwargs)
        if project is not None and not self.instance.project_id:
            self.instance.project = project  # the model's clean() compares the parent's project
        self.fields["parent"].queryset = Label.objects.filter(project=project, parent__isnull=True).exclude(
            pk=self.instance.pk)
        if parent_names is not None:
            self.fields["parent"].widget = ParentSelect(
                {"data-parent-choices": PARENT_CHOICES_ID, "data-row-label": self.instance.pk or ""}, parent_names)
        self.fields["parent"].required = False
        self.fields["order"].required = False
        self.guard_loaded_values()

    def clean_order(self):
        return self.cleaned_data.get("order") or 0

    def _post_clean(self):
        # A stored row left as the page showed it is not saved (BaseLabelFormSet.rows), so the model's
        # checks (queries per row: 600 for 300 labels) are not run on it; the cross-row checks read it.
        if self.instance.pk and not self.edited:
            return
        super()._post_clean()


class BaseLabelFormSet(PageRowsMixin, BaseModelFormSet):
    thing = "label"
    page_max_rows = LABELS_PAGE_MAX_ROWS
    parent_choices_id = PARENT_CHOICES_ID

    def __init__(self, *args, project=None, **kwargs):
        self.project = project
        kwargs.setdefault("queryset", Label.objects.filter(project=project).select_related("parent"))
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "project": self.project, "parent_names": self.parent_names}

    @cached_property
    def posted_rows(self) -> dict[str, QueryDict]:
        """The post split by row ("labels-3-name" under "3"): each row's form copies its data
        (LoadedValuesMixin), and a copy of the whole post per row made a save quadratic."""
        rows: dict[str, QueryDict] = {}
        for key in self.data:
            index, dash, _field = key.removeprefix(f"{self.prefix}-").partition("-")
            if dash and index.isdigit() and key.startswith(f"{self.prefix}-"):
                values = self.data.getlist(key) if isinstance(self.data, QueryDict) else [self.data[key]]
                rows.setdefault(index, QueryDict(mutable=True)).setlist(key, values)
        return rows

    def _construct_form(self, i, **kwargs):
        if self.is_bound:
            kwargs.setdefault("data", self.posted_rows.get(str(i), QueryDict()))
        return super()._construct_form(i, **kwargs)

    @cached_property
    def parent_choices(self) -> list[tuple[int, str]]:
        """(id, name) of the project's top-level labels, the parents a row may take (listed once on the page)."""
        return list(Label.objects.filter(project=self.project, parent__isnull=True)
                    .order_by("order", "name").values_list("pk", "name"))

    @cached_property
    def parent_names(self) -> dict[str, str]:
        return {str(pk): name for pk, name in self.parent_choices}

    def page_limit(self) -> str:
        """"over": more labels than the page saves at once (saving refused); "at": as many (no new row)."""
        count = self.initial_form_count()
        return "over" if count > LABELS_PAGE_MAX_ROWS else "at" if count == LABELS_PAGE_MAX_ROWS else ""

    def full_clean(self):
        # A post claiming more rows than the page ever shows is refused before any row is built.
        if self.is_bound and self.management_form.is_valid():
            claimed = self.management_form.cleaned_data.get(TOTAL_FORM_COUNT) or 0
            if claimed > LABELS_PAGE_MAX_ROWS:
                self._errors, self._non_form_errors = [], self.error_class(
                    [f"The page sent {claimed:,} label rows; it saves at most {LABELS_PAGE_MAX_ROWS:,} at once, so "
                     "nothing was saved. Reload the page; edit the labels of a project this large through the API "
                     f"(/api/projects/{self.project.slug}/labels/)."], error_class="nonform", renderer=self.renderer)
                self.__dict__["forms"] = []  # the cached_property's value: none of the claimed rows is built
                return
        super().full_clean()

    def kept_forms(self):
        """Forms of labels that stay: existing ones not ticked for deletion, and filled-in new rows."""
        kept = []
        for form in self.forms:
            if self.can_delete and self._should_delete_form(form):
                continue
            if form.instance.pk or form.has_changed():
                kept.append(form)
        return kept

    def deleted_labels(self):
        return [f.instance for f in self.forms
                if f.instance.pk and self.can_delete and self._should_delete_form(f)]

    def rows(self) -> list[dict]:
        """New labels and stored ones changed on the page, their untouched fields as stored now."""
        fields = LabelForm.Meta.fields
        return [{"label": f.instance if f.instance.pk else None,
                 **{name: f.cleaned_data.get(name) for name in fields}}
                for f in self.kept_forms() if not f.instance.pk or f.edited]

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        # Names that look the same (look_alike_key: "ab", "a\u200bb", "AB") count as one, as in Label.validate_constraints,
        # which leaves look-alikes stored before the rule editable: a clash counts only where a name is new or renamed.
        kept = [f for f in self.kept_forms() if f.cleaned_data.get("name")]
        names = [f.cleaned_data["name"] for f in kept]
        keys = [look_alike_key(name) for name in names]
        touched = {key for f, key in zip(kept, keys, strict=True) if not f.instance.pk or "name" in f.changed_data}
        repeated = sorted({name for name, key in zip(names, keys, strict=True) if keys.count(key) > 1 and key in touched})
        if repeated:
            twins = {name: next((n for n in repeated if n != name and look_alike_key(n) == look_alike_key(name)), None)
                     for name in repeated}  # what each is set beside: its look-alike letters shown where they differ
            raise ValidationError(f"Label names must be unique; repeated: "
                                  f"{', '.join(quoted_apart(name, twin) for name, twin in twins.items())}.")
        services.check_unique_hotkeys(
            (f.cleaned_data.get("name", ""), f.cleaned_data.get("hotkey", "")) for f in self.kept_forms()
        )


# absolute_max: Django builds min(TOTAL_FORMS, absolute_max) forms of a post (its default is 2,000).
LabelFormSet = modelformset_factory(Label, form=LabelForm, formset=BaseLabelFormSet, extra=1, can_delete=True,
                                    max_num=LABELS_PAGE_MAX_ROWS, absolute_max=LABELS_PAGE_MAX_ROWS,
                                    renderer=RowRenderer())  # the rows' widgets written in Python: thousands a page


class SourceForm(LoadedValuesMixin, forms.ModelForm):
    class Meta:
        model = Source
        fields = ["name", "quota"]
        # step "any": stored quotas may have more decimals than two (a third is 0.333333); a step of
        # 0.01 would make the browser hold every save of such a page. The total is checked on the server.
        widgets = {"quota": forms.NumberInput(attrs={"step": "any", "min": "0", "max": "1"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.guard_loaded_values()

    def validate_unique(self):
        # Renames and swaps are checked as a whole by services.replace_sources.
        return


class BaseSourceFormSet(PageRowsMixin, BaseModelFormSet):
    thing = "source"

    def __init__(self, *args, project=None, **kwargs):
        self.project = project
        kwargs.setdefault("queryset", Source.objects.filter(project=project))
        super().__init__(*args, **kwargs)

    def stale_problems(self) -> list[str]:
        # The page saves the complete list of sources: one added since the page loaded would be
        # removed (or refused as having items) without the lead ever seeing it.
        on_page = {form.instance.pk for form in self.forms if form.instance.pk}
        added = [source for source in self.get_queryset() if source.pk not in on_page]
        return super().stale_problems() + [
            f"The source “{source.name}” was added by someone else since this page loaded; nothing was saved. "
            "Reload the page to set its quota." for source in added]

    def kept_rows(self) -> list[dict]:
        """Every source the page keeps (the service replaces the list), untouched fields as stored now."""
        rows = []
        for form in self.forms:
            if self.can_delete and self._should_delete_form(form):
                continue
            if not form.instance.pk and not form.has_changed():
                continue
            rows.append({"id": form.instance.pk, "name": form.cleaned_data["name"],
                         "quota": form.cleaned_data["quota"]})
        return rows

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        services.check_quota_total([row["quota"] for row in self.kept_rows()])

    def validate_unique(self):
        # Renames and swaps are checked as a whole by services.replace_sources.
        return


SourceFormSet = modelformset_factory(Source, form=SourceForm, formset=BaseSourceFormSet, extra=1, can_delete=True)


class RuleForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = ["label", "kind", "pattern", "enabled"]

    def __init__(self, *args, project=None, **kwargs):
        super().__init__(*args, **kwargs)
        if project is not None and not self.instance.project_id:
            self.instance.project = project
        self.fields["label"].queryset = Label.objects.filter(project=project)
        self.fields["pattern"].strip = False  # a regex's outer spaces are part of it; Rule.clean trims a keyword's

    def clean(self):
        data = super().clean()
        # A pattern left as it was is not judged again (Rule.clean): a rule over a later cap can be disabled.
        if data.get("kind") and data.get("pattern") and {"kind", "pattern"} & set(self.changed_data):
            try:
                compile_rule(data["kind"], data["pattern"])
            except ValueError as exc:
                self.add_error("pattern", f"Pattern “{data['pattern']}”: {exc}.")
        return data


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    # Most people a lead adds label; making someone a lead is the deliberate choice.
    role = forms.ChoiceField(choices=Membership.ROLES, initial=Membership.ANNOTATOR)

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise ValidationError(f"There is no user named “{username}”.")
        self.user = user
        return username
