"""Filter sets of the item browser and the answers list. The lead's page and the API build the
same FilterSet from the query string, so both accept the same parameters with the same
validation messages (a bad value answers 400 naming the parameter)."""
from __future__ import annotations

import json
from base64 import b64decode
from binascii import Error as Base64Error

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import IntegerField, OuterRef, Q, Value
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import NotFound

from labeling.annotations.answer_states import cleared
from labeling.annotations.models import Annotation
from labeling.modeling.decoding import request_emitting_columns, rows_emitting
from labeling.modeling.models import ItemScore, ModelVersion
from labeling.projects.models import Label, Project, Source
from labeling.waves.models import WaveItem
from learner.planning import FILL, RANDOM
from learner.planning.strategies import STRATEGIES

from . import browse, narrowing
from .models import Item

MAX_SEARCH_CHARS = 200
# What a wave's pick records as its strategy: the planner's registry, its random slice and uniform
# fill, and a lead's pins (waves.services stores them as "pinned"). A name outside these matches
# nothing, so it is refused (400) rather than answered with an empty list.
PICK_STRATEGIES = [*STRATEGIES, RANDOM, FILL, "pinned"]
# true / false as the API spells them (and the browse page's selects send); "" or absent = either.
YES_NO = [("true", "yes"), ("false", "no")]
# Every spelling of yes or no the API takes, in filters and the export's flags alike (Python's
# requests sends True, scripts send 1 and 0); anything else is refused, naming the parameter.
YES_NO_SPELLINGS = {"true": True, "True": True, "1": True, "false": False, "False": False, "0": False}
YES_NO_ACCEPTED = "true, false, True, False, 1 or 0"
CURSOR = "cursor"  # the page links' query parameter (the paginators' cursor_query_param)
MODEL_CHANGED = ("The model these pages were sorted or filtered by has been replaced and its scores deleted; "
                 "start again from the first page.")


def cursor_version(encoded: str | None) -> int | None:
    """The model version a page link's cursor names (labeling.items.paging writes it), or None
    (no cursor, one without a version, or one the paginator will refuse as bad)."""
    try:
        version = json.loads(b64decode((encoded or "").encode("ascii"), validate=True)).get("v")
    except (ValueError, TypeError, AttributeError, UnicodeError, Base64Error):
        return None
    return version if isinstance(version, int) and not isinstance(version, bool) and 0 < version < 2**63 else None


def yes_no_value(raw: str) -> bool | None:
    """True or False for one of YES_NO_SPELLINGS, None for anything else."""
    return YES_NO_SPELLINGS.get(raw)


def documented(filter_, schema_type: str):
    """The filter with its OpenAPI type and its help text as the parameter's description
    (drf-spectacular cannot guess the type of a method filter or a by-name choice)."""
    return extend_schema_field({"type": schema_type, "description": filter_.extra.get("help_text", "")})(filter_)


class YesNoField(django_filters.fields.ChoiceField):
    """The spellings a BooleanFilter took before stay valid (Python's requests sends True, scripts send
    1 and 0): each is read as "true" or "false"; anything else is refused."""

    SPELLINGS = {spelling: "true" if value else "false" for spelling, value in YES_NO_SPELLINGS.items()}

    def to_python(self, value):
        value = super().to_python(value)
        return self.SPELLINGS.get(value, value)


class YesNoFilter(django_filters.ChoiceFilter):
    """A yes/no filter that takes true or false (also True/False and 1/0), or "" (either), and
    refuses anything else, naming the parameter. A BooleanFilter's NullBooleanField reads an unknown
    value as "either": excluded=maybe answered 200 with the whole list, where every other bad value
    answers 400."""

    field_class = YesNoField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", YES_NO)
        kwargs.setdefault("empty_label", "any")
        kwargs.setdefault("error_messages", {"invalid_choice": "Must be true or false (or 1 or 0), or left out "
                                                               "for either; got %(value)s."})
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value in ("", None):
            return qs
        return super().filter(qs, value == "true")


def yes_no(**kwargs):
    return documented(YesNoFilter(**kwargs), "boolean")


def by_name(**kwargs):
    """A project's label, source or user chosen by its name (to_field_name), not its id."""
    kwargs.setdefault("empty_label", "any")
    return documented(django_filters.ModelChoiceFilter(**kwargs), "string")


def project_people(project: Project):
    """Users who belong to the project or answered in it (a removed member's answers stay)."""
    return get_user_model().objects.filter(
        Q(memberships__project=project) | Q(annotations__project=project)
    ).distinct().order_by("username")


class ItemFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Search", max_length=MAX_SEARCH_CHARS, method="filter_nothing",
        help_text="Search of the text, ignoring accents and invisible characters: words, \"a phrase\" (its words in "
                  "that order), -word or -\"a phrase\" (leaves out the items with it); PostgreSQL: stemmed words and "
                  "or; a word no item has as a word (a part of one) and text in Chinese, Japanese, Korean, Thai and "
                  "other scripts without spaces match as substrings, the other words stay words; SQLite: each word "
                  "or phrase as a substring.",
    )
    label = by_name(
        queryset=Label.objects.none(), to_field_name="name", method="filter_nothing", label="Label (resolved)",
        help_text="Resolved label (adjudication, else majority of live answers), by name.",
    )
    annotator = by_name(
        queryset=get_user_model().objects.none(), to_field_name="username", method="filter_nothing",
        label="Answered by", help_text="Items with a live answer by this user (username).",
    )
    answer_label = by_name(
        queryset=Label.objects.none(), to_field_name="name", method="filter_nothing",
        label="Their answer",
        help_text="Items with a live answer of this label; with annotator, that annotator's answer.",
    )
    source = by_name(
        queryset=Source.objects.none(), to_field_name="name", field_name="source", label="Source", help_text="Source name.",
    )
    wave = documented(django_filters.NumberFilter(
        method="filter_nothing", min_value=1, decimal_places=0, label="Ever picked in wave",
        help_text="Items this wave ever picked (its number), whatever happened to them since; state is the item's "
                  "state now, not in that wave: an item answered in wave 1, cleared and answered again in wave 3 "
                  "is labeled under both.",
    ), "integer")
    strategy = django_filters.ChoiceFilter(
        choices=[(name, name) for name in PICK_STRATEGIES], method="filter_nothing", empty_label="any",
        label="Picked by strategy",
        error_messages={"invalid_choice": "Must be one of " + ", ".join(PICK_STRATEGIES) + "; got %(value)s."},
        help_text="Items a wave picked by this strategy (" + ", ".join(PICK_STRATEGIES) + "); with wave, "
                  "in that wave.",
    )
    state = django_filters.ChoiceFilter(choices=browse.STATES, method="filter_state", label="State",
                                       empty_label="any", help_text="; ".join(
                                           f"{k}: {v}" for k, v in browse.STATE_MEANINGS.items()) + ".")
    predicted = by_name(
        queryset=Label.objects.none(), to_field_name="name", method="filter_nothing", label="Predicted label",
        help_text="The label the active model emits, by name: a fine label, or a coarse label where a coarse → fine "
                  "model falls back to it (no active model: nothing matches).",
    )
    min_confidence = django_filters.NumberFilter(
        method="filter_nothing", min_value=0, max_value=1, label="Confidence ≥",
        help_text="Lowest calibrated top probability of the active model (0…1).",
    )
    max_confidence = django_filters.NumberFilter(
        method="filter_nothing", min_value=0, max_value=1, label="Confidence ≤",
        help_text="Highest calibrated top probability of the active model (0…1).",
    )
    dup_group = documented(django_filters.NumberFilter(
        field_name="dup_group", decimal_places=0, label="Duplicate group", help_text="Near-duplicate group id."),
        "integer")
    excluded = yes_no(field_name="excluded", label="Excluded", help_text="Excluded from the pool by a lead.")
    pinned = yes_no(field_name="pinned_for_next_wave", label="Pinned", help_text="Pinned for the next wave.")
    sort = django_filters.ChoiceFilter(
        choices=browse.SORT_CHOICES, method="filter_nothing", empty_label=None, label="Sort",
        help_text="Order of the results (default newest). The confidence orders list scored items only "
                  "(the active model's calibrated top probability).",
    )

    class Meta:
        model = Item
        fields: list[str] = []

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, project: Project | None = None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        self.project = project
        if project is not None:
            labels = Label.objects.filter(project=project).order_by("order", "name")
            for name in ("label", "answer_label", "predicted"):
                self.filters[name].queryset = labels
            self.filters["source"].queryset = Source.objects.filter(project=project).order_by("name")
            self.filters["annotator"].queryset = project_people(project)

    def is_valid(self):
        valid = super().is_valid()
        data = self.form.cleaned_data if valid else {}
        low, high = data.get("min_confidence"), data.get("max_confidence")
        if valid and low is not None and high is not None and low > high:
            self.form.add_error("max_confidence", "max_confidence is below min_confidence.")
            return False
        return valid

    @property
    def sort_key(self) -> str:
        return (self.form.cleaned_data.get("sort") if self.is_bound and self.is_valid() else None) or "newest"

    def filter_nothing(self, queryset, name, value):
        return queryset  # applied together with its partner filters in filter_queryset

    def filter_state(self, queryset, name, value):
        if value == browse.LABELED and self.form.cleaned_data.get("label") is not None:
            return queryset  # a resolved label implies a usable answer: no second semi-join
        return queryset.filter(browse.state_q(value))

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        if data.get("label") is not None:
            label = data["label"]
            queryset = queryset.filter(browse.has(browse.usable_answers(label=label))).alias(
                resolved=browse.resolved_label_subquery()).filter(resolved=label.id)
        queryset = self._answers(queryset, data)
        queryset = self._waves(queryset, data)
        queryset = self._prediction(queryset, data)
        if self.sort_key.startswith("confidence"):
            queryset = browse.with_confidence(queryset, self.active_version())
        if self.reads_scores() and self.active_version() is not None:
            # Which version's scores these rows were read from: the paginator writes it into the page
            # links' cursor, and the next page reads that version (a retrain meanwhile changes nothing).
            queryset = queryset.annotate(scored_by=Value(self.active_version().pk, output_field=IntegerField()))
        # The search is applied there: whether words or substrings are looked for may depend on the project's items.
        return narrowing.narrow(queryset, self.project, data, self.active_version())

    def reads_scores(self) -> bool:
        data = self.form.cleaned_data
        return self.sort_key.startswith("confidence") or any(
            data.get(name) is not None for name in narrowing.PREDICTION_FILTERS)

    def active_version(self) -> ModelVersion | None:
        """The model version whose scores the sort and the prediction filters read: the active one,
        or on a later page the one the cursor names, so that a walk through the confidence order
        lists each item once across a retrain. A version pruned since (its scores deleted) cannot
        give that page: NotFound, which sends the first page, as a bad cursor does."""
        if self.project is None:
            return None
        if not hasattr(self, "_version"):
            pinned = cursor_version(self.data.get(CURSOR) if self.data else None)
            self._version = browse.active_version(self.project) if pinned is None else (
                ModelVersion.objects.filter(project=self.project, pk=pinned, pruned_at__isnull=True)
                .defer("artifact").first())
            if pinned is not None and self._version is None:
                raise NotFound(MODEL_CHANGED)
        return self._version

    @staticmethod
    def _answers(queryset, data):
        annotator, label = data.get("annotator"), data.get("answer_label")
        if annotator is None and label is None:
            return queryset
        where = {}
        if annotator is not None:
            where["annotator"] = annotator
        if label is not None:
            where.update(label=label, skipped=False)
        return queryset.filter(browse.has(browse.live_answers(**where)))

    @staticmethod
    def _waves(queryset, data):
        wave, strategy = data.get("wave"), data.get("strategy")
        if wave is None and not strategy:
            return queryset
        where = {}
        if wave is not None:
            where["wave__number"] = int(wave)
        if strategy:
            where["strategy"] = strategy
        return queryset.filter(browse.has(WaveItem.objects.filter(item=OuterRef("pk"), **where)))

    def _prediction(self, queryset, data):
        if all(data.get(name) is None for name in narrowing.PREDICTION_FILTERS):
            return queryset
        version = self.active_version()
        where = narrowing.score_conditions(data, version)
        if where is narrowing.NOTHING:
            return queryset.none()
        scores = ItemScore.objects.filter(item_id=OuterRef("pk"), **where)
        if data.get("predicted") is not None:
            # the label's rows less its fallbacks (to their coarse label), and the fallbacks to it
            scores = scores.filter(rows_emitting(*request_emitting_columns(version, data["predicted"].pk)))
        return queryset.filter(browse.has(scores))


class AnswerFilterSet(django_filters.FilterSet):
    item = documented(django_filters.NumberFilter(
        field_name="item_id", decimal_places=0, help_text="Answers on this item (id)."), "integer")
    annotator = by_name(
        queryset=get_user_model().objects.none(), to_field_name="username", field_name="annotator",
        help_text="Answers by this user (username).",
    )
    wave = documented(django_filters.NumberFilter(
        field_name="assignment__wave_item__wave__number", min_value=1, decimal_places=0,
        help_text="Answers given in this wave (its number); imports and adjudications belong to no wave.",
    ), "integer")
    label = by_name(
        queryset=Label.objects.none(), to_field_name="name", field_name="label", help_text="Answers of this label.",
    )
    origin = django_filters.ChoiceFilter(choices=Annotation.ORIGINS, help_text="annotator, import or adjudication.")
    undone = yes_no(
        method="filter_undone",
        help_text="Cleared answers (true: undone with no newer answer replacing them) or the rest (false: live "
                  "answers, and changed ones, which show superseded). As the rows' own undone flag.")
    skipped = yes_no(field_name="skipped", help_text="Skips (true) or labels (false).")

    class Meta:
        model = Annotation
        fields: list[str] = []

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, project: Project | None = None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        if project is not None:
            self.filters["label"].queryset = Label.objects.filter(project=project)
            self.filters["annotator"].queryset = project_people(project)

    @staticmethod
    def filter_undone(queryset, name, value):
        # A changed answer is stored undone too, but its row reads "undone": false (it was replaced,
        # not taken back): the filter follows the row, not the column.
        # value: "true" or "false" (YesNoField's spelling); a method filter gets it as the form read it
        return queryset.filter(cleared()) if value == "true" else queryset.exclude(cleared())
