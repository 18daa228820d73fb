"""Label issues on a coarse → fine project where annotators answered some items at the coarse level
only (Enter keeps the coarse label). Such an answer is right whenever the item belongs under that
coarse label: the out-of-fold models putting the item in one of its fine labels agree with it. The
scan (labeling/modeling/label_issues.py → learner/label_issues.py) treats the coarse label as one
more flat class, so each such answer reads as "improbable" (the probability of the class of that
name, not of its branch) and opens a label-issue task claiming the item is mislabeled, with a
"why" that quotes the class probability (e.g. 0.09) while the branch holds nearly all of it."""
import pytest

from labeling.annotations.models import Annotation, ReviewTask
from labeling.items.models import Item
from labeling.projects.models import Label

from . import test_loop_helpers as helpers

eager_celery = helpers.eager_celery
pytestmark = pytest.mark.django_db


def test_a_coarse_only_answer_is_not_flagged_as_mislabeled_for_its_own_fine_labels(
        eager_celery, project_factory, django_capture_on_commit_callbacks):
    project, truth = helpers.build_project(project_factory, slug="coarse-issues", n_items=300, n_labeled=150, seed=3,
                                           labels=("billing", "login", "fraud", "refund"),
                                           shares=(0.4, 0.3, 0.2, 0.1), hierarchy_mode="hierarchical")
    account = Label.objects.create(project=project, name="account", hotkey="8", order=0)
    money = Label.objects.create(project=project, name="money", hotkey="9", order=0)
    Label.objects.filter(project=project, name__in=["login", "fraud"]).update(parent=account)
    Label.objects.filter(project=project, name__in=["billing", "refund"]).update(parent=money)
    # 25 login / fraud items an annotator answered at the coarse level only: "account" is right for each
    coarse_only = [i for i in Item.objects.filter(project=project, annotations__isnull=True).order_by("id")
                   if truth[i.id] in ("login", "fraud")][:25]
    Annotation.objects.bulk_create([Annotation(project=project, item=i, label=account, origin=Annotation.IMPORT)
                                    for i in coarse_only])
    # and 8 real mislabels: billing items labeled fraud
    flipped = [a.item_id for a in Annotation.objects.filter(project=project, label__name="billing").order_by("id")[:8]]
    Annotation.objects.filter(project=project, item_id__in=flipped).update(label=Label.objects.get(project=project, name="fraud"))
    run = helpers.retrain(project, django_capture_on_commit_callbacks)
    assert run.state == "done", run.message
    under = {"login": "account", "fraud": "account", "billing": "money", "refund": "money"}
    issues = list(ReviewTask.objects.filter(project=project, reason=ReviewTask.LABEL_ISSUE))
    # a given label and a suggestion in the same branch (a coarse answer and one of its fine labels,
    # or a fine answer and its coarse label) are no mislabel: the given label is right at its level
    same_branch = [(t.item_id, t.detail["given_label"], t.detail["suggested_label"], t.detail["why"]) for t in issues
                   if under.get(t.detail["given_label"], t.detail["given_label"])
                   == under.get(t.detail["suggested_label"], t.detail["suggested_label"])]
    found = sum(1 for t in issues if t.item_id in flipped)
    print("flipped found", found, "of", len(flipped), "issues", len(issues))
    assert not same_branch, (f"{len(same_branch)} of {len(issues)} label issues flag a label right at its level, "
                             f"e.g. {same_branch[:3]}")
