"""Projects and their configuration: labels (flat or coarse → fine), sources with quotas,
rules that hint at rare labels, and who works on what."""
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from learner.label_shift import MIX_MODES
from learner.planning.config import DEFAULT_MIX
from learner.rules import compile_rule, rule_key
from learner.training.config import LABEL_PRIOR_MODES, TrainConfig
from learner.weighting import WEIGHTINGS

from .hotkeys import OTHER_STAYS_TOP, REVIEW_KEYS, hotkey_error, normalized_hotkey
from .label_names import INVISIBLE_NAME, label_exists_message, label_name_key, look_alike_key, mixed_name_problem
from .overlap import overlap_errors
from .setting_checks import UNSET, annotator_metadata_problem, range_text, related_project_errors, strategy_mix_problem

SHARE = [MinValueValidator(0.0), MaxValueValidator(1.0)]


def described(modes, words: dict[str, str]) -> list[tuple[str, str]]:
    """Choices for a setting whose values the learner defines (``modes``), with ``words`` to show,
    in display order. They must name exactly the learner's modes, so a mode added or renamed there
    fails here when Django starts, not at a project's next retrain."""
    if set(words) != set(modes):
        raise ImproperlyConfigured(f"choices {sorted(words)} do not match the learner's modes {sorted(modes)}")
    return list(words.items())


def default_strategy_mix() -> dict:
    # Shares of a wave per strategy once a model exists (the learner's default, which the
    # simulation tunes); the random slice is Project.random_share.
    return dict(DEFAULT_MIX)


def default_max_text_chars() -> int:  # a new project's limit, the operator's setting when it is made (README)
    return settings.LONGTAIL_MAX_TEXT_CHARS


class Project(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    guidelines = models.TextField(blank=True, help_text="Shown to annotators beside the labels.")
    created_at = models.DateTimeField(auto_now_add=True)

    wave_size = models.PositiveIntegerField(default=1000)
    batch_size = models.PositiveIntegerField(default=20)
    band_low = models.FloatField(default=0.30, validators=SHARE)
    band_high = models.FloatField(default=0.70, validators=SHARE)
    rare_threshold = models.PositiveIntegerField(default=500,
                                                 help_text="Labels with fewer labeled examples than this count as rare.")
    random_share = models.FloatField(default=0.10, validators=SHARE)
    review_share_min = models.FloatField(default=0.05, validators=SHARE)
    review_share_max = models.FloatField(default=0.10, validators=SHARE)
    double_label_share = models.FloatField(default=0.10, validators=SHARE)
    overlap = models.PositiveSmallIntegerField(default=2, help_text="Annotators per double-labeled item.")
    strategy_mix = models.JSONField(default=default_strategy_mix, blank=True)
    label_cap_share = models.FloatField(default=0.25, validators=SHARE,
                                        help_text="At most this share of a wave per predicted label.")
    label_budget = models.PositiveIntegerField(null=True, blank=True)
    retrain_every = models.PositiveIntegerField(null=True, blank=True,
                                                help_text="Retrain after this many new labels (besides wave end).")
    fine_floor = models.FloatField(default=0.75, validators=SHARE)
    near_dup_threshold = models.FloatField(default=0.8, validators=SHARE)
    max_text_chars = models.PositiveIntegerField(default=default_max_text_chars)
    allow_new_sources = models.BooleanField(default=False)
    allow_new_labels = models.BooleanField(default=False)
    queue_review_predictions = models.BooleanField(default=False,
                                                   help_text="Predictions that need review are queued for annotation.")
    annotator_metadata = models.JSONField(default=list, blank=True, help_text=(
        "Metadata fields (keys from the import) shown to annotators with each item, in this order."))
    show_suggestions = models.BooleanField(default=False, help_text=(
        "Show the active model's top label and its probability with each item; "
        "annotators accept it with one key. Answers record that a suggestion was shown."))
    # The model a retrain fits (learner.training.TrainConfig; each choice is shown in the model's report).
    HEADS = [("logreg", "logistic regression"), ("torch", "torch head (on the GPU when the worker has one)")]
    LOSSES = [("ce", "weighted cross-entropy"), ("focal", "focal loss"), ("logit_adjusted", "logit-adjusted loss")]
    CALIBRATIONS = [("temperature", "temperature scaling"),
                    ("temperature_matched", "temperature scaling, matched on unlabeled items to the out-of-fold models"),
                    ("platt", "Platt scaling (two labels)"), ("none", "none")]
    HIERARCHY_MODES = [("auto", "chosen by out-of-fold evidence"), ("flat", "flat"),
                       ("hierarchical", "coarse → fine"), ("blended", "blend of flat and coarse → fine")]
    CLASS_WEIGHTS = described(WEIGHTINGS, {"effective": f"effective number of examples (Cui et al., β {TrainConfig.beta:g})",
                                           "inverse": "inverse frequency, N / (K · n)", "none": "none"})
    LABEL_PRIORS = described(LABEL_PRIOR_MODES, {"auto": "chosen by out-of-fold evidence", "on": "on", "off": "off"})
    THRESHOLD_MIXES = described(MIX_MODES, {"pool": "like the pool (estimated from unlabeled items)",
                                            "uniform": "uniform (every label equally often)",
                                            "labeled": "as labeled (the labeled items' own mix)"})
    head = models.CharField(max_length=20, choices=HEADS, default="logreg")
    head_loss = models.CharField(max_length=20, choices=LOSSES, default="ce",
                                 help_text="Loss of the torch head (logistic regression always uses weighted CE).")
    other_min_examples = models.PositiveIntegerField(
        default=0, help_text="Labels with fewer labeled examples than this share one Other class, resolved by "
                             "nearest centroid; 0 = off.")
    calibration = models.CharField(max_length=20, choices=CALIBRATIONS, default="temperature")
    hierarchy_mode = models.CharField(
        max_length=20, choices=HIERARCHY_MODES, default="auto",
        help_text="With coarse labels: flat, coarse → fine, the blend of the two (their probabilities averaged), "
                  "or auto: the blend unless flat or coarse → fine beats it out of fold at a retrain.")
    class_weights = models.CharField(
        max_length=20, choices=CLASS_WEIGHTS, default=TrainConfig.weighting,
        help_text="How each label's examples are weighted in training so rare labels count: by inverse frequency "
                  "(the default), by the effective number of examples (nearly inverse frequency for small counts, "
                  "flatter for large ones), or not at all.")
    label_prior = models.CharField(
        max_length=20, choices=LABEL_PRIORS, default="auto",
        help_text=f"Train on each label's name and description as one extra example while it has fewer than "
                  f"{TrainConfig.label_prior_below} labeled items: on, off, or only when it beats no prior out of "
                  "fold at each retrain.")
    threshold_mix = models.CharField(
        max_length=20, choices=THRESHOLD_MIXES, default="pool",
        help_text="The traffic per-label precision and recall targets must hold on. Precision depends on how "
                  "often each label occurs, and the labeled items over-represent rare labels (they were chosen "
                  "for labeling), so thresholds that hold on them fall short on traffic where the labels' "
                  "confusers are more common. Like the pool (default): the mix estimated at each retrain from "
                  "a sample of unlabeled items; uniform: every label equally often; as labeled: the old "
                  "behaviour. Like the pool is the default because the pool is the traffic the model most likely "
                  "faces; measured, it held as often as as-labeled on the pool's mix, and thresholds chosen for "
                  "the traffic's mix held on more labels where the labeled mix was far from it (docs/estimates.md). "
                  "Thresholds for a mix far from the labeled one send more predictions to review.")
    threshold_guard = models.BooleanField(
        default=False,
        help_text="Guard precision targets against confusions the labeled items do not show. A label with a "
                  "handful of labeled items that were all predicted right can still send a good share of its "
                  "traffic to a look-alike label; weighting those items up to the traffic's mix multiplies a "
                  "zero. With the guard, each label's confusion into another is shrunk toward the model's own "
                  "runner-up probability for it, so barely-labeled look-alikes count against a threshold. "
                  "Measured, thresholds then held on 95-100 % of the labels that kept one, but far fewer labels "
                  "keep one and much more goes to review (docs/estimates.md).")
    retrain_followup = models.JSONField(default=dict, blank=True, editable=False)  # labeling.loop.triggers._ask_followup

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if errors := settings_errors(self):
            raise ValidationError(errors)

    def clean_fields(self, exclude=None):
        """The strategy mix is checked with the random share wherever the mix is validated (the
        admin, update_settings); a form without the mix (the settings page, which checks its mix
        fields itself) excludes it, so a changed random share is not judged against the old mix."""
        errors = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if not {"strategy_mix", "random_share"} & {*(exclude or ()), *errors}:
            if problem := strategy_mix_problem(self.strategy_mix, self.random_share):
                errors["strategy_mix"] = [problem]
        if errors:
            raise ValidationError(errors)


# Human names of the settings, for messages that name the field as the settings page shows it.
SETTING_NAMES = {
    "wave_size": "Wave size", "batch_size": "Batch size", "band_low": "Uncertainty band: low",
    "band_high": "Uncertainty band: high", "rare_threshold": "Rare threshold", "random_share": "Random share",
    "review_share_min": "Review share: minimum", "review_share_max": "Review share: maximum",
    "double_label_share": "Double-labeled share", "overlap": "Overlap", "label_cap_share": "Per-label share cap",
    "label_budget": "Label budget", "retrain_every": "Retrain every N labels", "fine_floor": "Fine-label floor",
    "near_dup_threshold": "Near-duplicate threshold", "max_text_chars": "Maximum text length",
    "annotator_metadata": "Metadata shown to annotators", "show_suggestions": "Show model suggestions",
    "head": "Model head", "head_loss": "Head loss", "other_min_examples": "Other bucket: minimum examples",
    "calibration": "Calibration", "class_weights": "Class weights", "hierarchy_mode": "Label hierarchy", "label_prior": "Label-name prior",
    "threshold_mix": "Thresholds hold on", "threshold_guard": "Guard thresholds against unseen confusions",
}
# The highest "Maximum text length": a text's search document (a generated tsvector, items migration
# 0007) holds at most 1 MB; measured, distinct words take 2-3 bytes of it per character in Latin
# scripts, 6 in CJK. The import refuses the rare text that takes more (labeling.items.validation).
MAX_TEXT_CHARS_CEILING = 100_000  # projects migration 0014 lowered stored values above it
# (field, lowest, highest, lowest allowed itself, highest allowed itself); None: no bound.
SETTING_RANGES = [
    ("wave_size", 1, None, True, True), ("rare_threshold", 1, None, True, True), ("overlap", 1, None, True, True),
    ("max_text_chars", 1, None, True, True), ("label_budget", 1, None, True, True),  # text ceiling: see below
    ("retrain_every", 1, None, True, True),
    ("band_low", 0.0, 1.0, False, False), ("band_high", 0.0, 1.0, False, False),
    ("random_share", 0.0, 1.0, True, True), ("review_share_min", 0.0, 1.0, True, True),
    ("review_share_max", 0.0, 1.0, True, True), ("double_label_share", 0.0, 1.0, True, True),
    ("label_cap_share", 0.0, 1.0, False, True), ("fine_floor", 0.0, 1.0, True, True),
    ("near_dup_threshold", 0.0, 1.0, False, True),
]


def settings_errors(values) -> dict[str, str]:
    """Every way a project's settings can break the loop, as {field: message naming the field}.
    ``values`` is a Project or anything with the same attributes (the API checks a PATCH merged
    with the stored project). The model's clean(), the settings form and the API serializer all
    call this, so the page and the API refuse the same values with the same words. The strategy
    mix total is checked beside it (labeling.projects.services.check_strategy_mix)."""
    errors: dict[str, str] = {}
    for field, low, high, low_in, high_in in SETTING_RANGES:
        value = getattr(values, field, None)
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue  # empty optional settings (budget, retrain_every); type errors are the field's own
        below = not (value >= low if low_in else value > low)  # "not within", not "outside": NaN fails
        above = high is not None and not (value <= high if high_in else value < high)
        if below or above:
            errors[field] = (f"{SETTING_NAMES[field]} must be {range_text(low, high, low_in, high_in)}; "
                             f"got {value:g}.")
    chars = getattr(values, "max_text_chars", None)
    if isinstance(chars, int) and not isinstance(chars, bool) and chars > MAX_TEXT_CHARS_CEILING:
        errors["max_text_chars"] = (f"{SETTING_NAMES['max_text_chars']} must be at most {MAX_TEXT_CHARS_CEILING:,} "
                                    f"characters; got {chars:,}. A longer text would not fit the search index "
                                    "(at most 1 MB of words per text).")
    errors.update(overlap_errors(values))  # at most MAX_OVERLAP: the reason is in labeling.projects.overlap
    wave, batch = getattr(values, "wave_size", None), getattr(values, "batch_size", None)
    if isinstance(batch, int) and isinstance(wave, int):
        if batch < 1:
            errors["batch_size"] = f"Batch size must be between 1 and the wave size ({wave}); got {batch}."
        elif wave >= 1 and batch > wave:
            errors["batch_size"] = (f"Batch size ({batch}) cannot exceed the wave size ({wave}): "
                                    "a batch is a slice of a wave.")
    low, high = getattr(values, "band_low", None), getattr(values, "band_high", None)
    if isinstance(low, (int, float)) and isinstance(high, (int, float)) and "band_low" not in errors \
            and "band_high" not in errors and low >= high:
        errors["band_high"] = (f"Uncertainty band: high ({high:g}) must be above the low end ({low:g}); "
                               "the band is the range of predicted probability that counts as unsure.")
    smin, smax = getattr(values, "review_share_min", None), getattr(values, "review_share_max", None)
    if isinstance(smin, (int, float)) and isinstance(smax, (int, float)) and smin > smax \
            and "review_share_max" not in errors:
        errors["review_share_max"] = (f"Review share: maximum ({smax:g}) is below the minimum ({smin:g}); "
                                      "set the maximum at or above the minimum.")
    meta_problem = annotator_metadata_problem(getattr(values, "annotator_metadata", UNSET),
                                              SETTING_NAMES["annotator_metadata"])
    if meta_problem:
        errors["annotator_metadata"] = meta_problem
    errors.update(model_settings_errors(values))
    return errors


def model_settings_errors(values) -> dict[str, str]:
    """The model choices (head, loss, Other bucket, calibration, hierarchy, label-name prior, the
    class mix thresholds hold on) that cannot work together."""
    errors: dict[str, str] = {}
    for field, choices in (("head", Project.HEADS), ("head_loss", Project.LOSSES),
                           ("calibration", Project.CALIBRATIONS), ("class_weights", Project.CLASS_WEIGHTS),
                           ("hierarchy_mode", Project.HIERARCHY_MODES),
                           ("label_prior", Project.LABEL_PRIORS), ("threshold_mix", Project.THRESHOLD_MIXES)):
        value = getattr(values, field, None)
        allowed = [c for c, _ in choices]
        if value is not None and value not in allowed:
            errors[field] = f"{SETTING_NAMES[field]} must be one of {', '.join(allowed)}; got {str(value)[:50]!r}."
    head, loss = getattr(values, "head", None), getattr(values, "head_loss", None)
    if head == "logreg" and loss not in (None, "ce") and "head_loss" not in errors:
        errors["head_loss"] = (f"Head loss {loss!r} needs the torch head: logistic regression trains with weighted "
                               "cross-entropy only. Choose the torch head, or the loss ce.")
    other = getattr(values, "other_min_examples", None)
    if isinstance(other, int) and not isinstance(other, bool) and not 0 <= other <= 10_000:
        errors["other_min_examples"] = (f"{SETTING_NAMES['other_min_examples']} must be between 0 (off) and "
                                        f"10000; got {other}.")
    return errors


class Label(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    hotkey = models.CharField(max_length=1, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    precision_target = models.FloatField(null=True, blank=True, validators=SHARE)
    recall_target = models.FloatField(null=True, blank=True, validators=SHARE)
    is_other = models.BooleanField(default=False, help_text='The "none of these" / Other label.')
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="label_unique_name"),
            # "None of these" answers store the top-level Other label: with two, the annotation page
            # and the server could each take a different one (services check it first, naming is_other).
            models.UniqueConstraint(fields=["project"], condition=Q(is_other=True, parent__isnull=True),
                                    name="label_one_other",
                                    violation_error_message="A project has one top-level Other label (the answer "
                                                            "“none of these”); untick Other on the current one first."),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        # Answers, rules and the export read a project's labels by project: a label stays where it was made.
        if self.pk and Label.objects.filter(pk=self.pk).exclude(project_id=self.project_id).exists():
            raise ValidationError({"project": "A label stays in the project it was made in (its answers, rules and "
                                              "models are that project's); create a label in the other project."})
        if self.pk and self.is_other and self.parent_id and Label.objects.filter(  # the Other label, moved:
                pk=self.pk, is_other=True, parent__isnull=True).exists():  # said before its key 0 is refused
            raise ValidationError({"parent": OTHER_STAYS_TOP})
        # A label keeps a review-page key it already holds (hotkeys.hotkey_error): read as stored.
        stored = (Label.objects.filter(pk=self.pk).values_list("hotkey", flat=True).first() or ""
                  if self.pk and self.hotkey and self.hotkey.lower() in REVIEW_KEYS else "")
        if reserved := hotkey_error(self.hotkey, is_other=self.is_other, parent_id=self.parent_id, stored=stored):
            raise ValidationError({"hotkey": reserved})
        if self.name and not label_name_key(self.name) and not Label.objects.filter(pk=self.pk, name=self.name).exists():
            raise ValidationError({"name": f"Name is {INVISIBLE_NAME}."})
        if self.parent_id:
            if self.parent.project_id != self.project_id:
                raise ValidationError({"parent": "The parent label belongs to another project."})
            if self.parent.parent_id:
                raise ValidationError({"parent": "Taxonomies have two levels: coarse and fine."})

    def clean_fields(self, exclude=None):  # judged as its key types it ("e" + U+0301 is "é"), not as 2 characters
        self.hotkey = normalized_hotkey(self.hotkey or "")
        super().clean_fields(exclude=exclude)

    def save(self, *args, **kwargs):
        self.hotkey = normalized_hotkey(self.hotkey or "")  # a label saved without full_clean() stores it so too
        super().save(*args, **kwargs)

    def validate_constraints(self, exclude=None):
        """The unique-name constraint read as "no two names look alike" (look_alike_key: case, variants, invisible
        characters, Cyrillic or Greek letters that print as Latin ones; then no scripts mixed in a word) wherever it
        is checked (API, labels page, admin); an unchanged name is not checked again, so look-alikes stored before
        stay editable."""
        if self.project_id and self.name and not {"name", "project"} & set(exclude or ()) and (
                not self.pk or not Label.objects.filter(pk=self.pk, name=self.name).exists()):
            key = look_alike_key(self.name)
            others = Label.objects.filter(project_id=self.project_id).exclude(pk=self.pk).values_list("name", flat=True)
            twin = next((name for name in others if look_alike_key(name) == key), None)
            if problem := label_exists_message(twin, self.name) if twin is not None else mixed_name_problem(self.name):
                raise ValidationError({"name": problem})
            exclude = {*(exclude or ()), "name"}  # label_unique_name: an equal name looks alike, checked just now
        super().validate_constraints(exclude=exclude)


class Source(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sources")
    name = models.CharField(max_length=200)
    quota = models.FloatField(default=0.0, validators=SHARE, help_text="Share of each wave.")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="source_unique_name")]

    def __str__(self) -> str:
        return self.name


class Rule(models.Model):
    KEYWORD = "keyword"
    REGEX = "regex"
    KINDS = [(KEYWORD, "keyword"), (REGEX, "regular expression")]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rules")
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(max_length=10, choices=KINDS, default=KEYWORD)
    pattern = models.CharField(max_length=500)
    enabled = models.BooleanField(default=True)

    class Meta:  # an identical rule is only a second row to keep in step (a double-click on "Add rule")
        constraints = [models.UniqueConstraint(fields=["label", "kind", "pattern"], name="rule_unique")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.pattern} → {self.label}"

    def validate_constraints(self, exclude=None):  # rule_unique, on pattern; a rule stored as is passes: twins since a fold change stay editable
        if self.label_id and self.pattern and not {"label", "kind", "pattern"} & set(exclude or ()):
            key, same = rule_key(self.kind, self.pattern), Rule.objects.filter(label_id=self.label_id, kind=self.kind)
            rest = same.none() if same.filter(pk=self.pk, pattern=self.pattern).exists() else same.exclude(pk=self.pk)
            if twin := next((r for r in rest.values_list("pk", "pattern") if rule_key(self.kind, r[1]) == key), None):
                raise ValidationError({"pattern": f"The label has this rule already: rule {twin[0]}, {self.kind} “{twin[1]}”."})
        super().validate_constraints(exclude=exclude)

    def clean(self):
        if errors := related_project_errors(self, "label"):
            raise ValidationError(errors)
        if not self.pattern:  # the field's check reports it; one the form refused is not here: no second error
            return
        if self.pk and Rule.objects.filter(pk=self.pk, kind=self.kind, pattern=self.pattern).exists():
            return  # judged when it was saved: a rule over a later cap can still be disabled or relabeled
        try:
            compile_rule(self.kind, self.pattern, max_program_size=settings.LONGTAIL_RULE_MAX_PROGRAM_SIZE)
        except ValueError as exc:
            raise ValidationError({"pattern": f"Pattern “{self.pattern}”: {exc}."}) from exc
        if self.kind == self.KEYWORD:  # a keyword's outer spaces mean nothing; a regex's are part of it
            self.pattern = self.pattern.strip()


class Membership(models.Model):
    LEAD = "lead"
    ANNOTATOR = "annotator"
    ROLES = [(LEAD, "lead"), (ANNOTATOR, "annotator")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=ROLES, default=ANNOTATOR)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "project"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} · {self.project} · {self.role}"
