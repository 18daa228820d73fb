"""Share locks on label rows (FOR KEY SHARE), taken by every writer of a row that refers to a label
(an answer, a review decision, a wave's pick, a fine label under its parent): foreign keys are
checked at commit, so without the lock a label deleted meanwhile fails the other commit (a 500).
With it, services.delete_label (which locks the label FOR UPDATE first) waits for that writer and
then finds the reference, or the writer waits for the deletion and finds the label gone. FOR KEY
SHARE does not conflict with other holders or with saves that leave a label's key columns alone
(description, hotkey, targets); a rename changes the (project, name) unique key, so it waits, as a
deletion does. Also the label writers' lock on a
project's labels (``lock_project_labels``), the lock a deletion takes on the labels it deletes (``lock_labels_to_delete``)
and a member's share lock on their membership (``hold_membership``), which a removal's DELETE waits for."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import connection

from .models import Label, Membership, Project

# First key of pg_advisory_xact_lock(namespace, project id): the label writers' turn on a project, which
# rows alone cannot give a project without labels (the import lock is 7201).
LABEL_WRITERS_LOCK = 7202


def hold_label(label: Label) -> bool:
    """Share-lock the label's row until the transaction ends (False: it is gone). Foreign keys are checked
    at commit, so services.delete_label waits for the answer and counts it, or the answer waits
    for the delete and finds the label gone. FOR KEY SHARE does not queue answers with one label."""
    if connection.vendor != "postgresql":
        return Label.objects.filter(pk=label.pk).exists()
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT 1 FROM "{Label._meta.db_table}" WHERE id = %s FOR KEY SHARE', [label.pk])
        return cursor.fetchone() is not None


def hold_labels(project: Project, names=None) -> dict[str, int]:
    """name → id of the project's labels (of those named in ``names`` when given), each share-locked
    until the transaction ends. A plan's picks refer to labels (WaveItem.predicted_label) and foreign
    keys are checked at commit, so a label deleted while the plan runs would fail the plan's commit.
    Held, projects.services.delete_label (which locks the label FOR UPDATE first) waits for the plan
    and then clears the picks' references (SET_NULL), or the plan waits for the deletion and finds
    the label gone. FOR KEY SHARE, as hold_label: answers and other plans go on, a rename waits."""
    if connection.vendor != "postgresql":
        labels = Label.objects.filter(project=project)
        return dict((labels if names is None else labels.filter(name__in=list(names))).values_list("name", "id"))
    sql = f'SELECT name, id FROM "{Label._meta.db_table}" WHERE project_id = %s'
    params: list = [project.pk]
    if names is not None:
        sql, params = sql + " AND name = ANY(%s)", [*params, list(names)]
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY id FOR KEY SHARE", params)
        return dict(cursor.fetchall())


def lock_project_labels(project: Project) -> None:
    """Take the label writers' turn on the project until the transaction ends: an advisory lock on
    the project, then every label row of it (FOR NO KEY UPDATE, in id order). Each writer that
    creates, changes or deletes labels takes it first, before it reads or checks any (the labels
    page and the API's label saves, the first "none of these" creating Other, an import creating
    labels, the Django admin's label saves and deletions; one that writes the labels of several
    projects takes it project by project in id order), so that they run one after another and each
    reads the others' labels once it holds the lock. The advisory lock is what makes writers take
    turns on a project without labels, which has no row to lock (two first labels that look alike
    both passed their checks). Answers and plans (FOR KEY SHARE) go on."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LABEL_WRITERS_LOCK, project.pk])
    list(Label.objects.select_for_update(no_key=True).filter(project=project).order_by("pk")
         .values_list("pk", flat=True))


def lock_labels_to_delete(label_ids) -> None:
    """Lock the labels a deletion is about to delete (FOR UPDATE, in id order) until the transaction
    ends, before it looks for what refers to them: an answer being stored on one (FOR KEY SHARE)
    commits first and is found, and one stored later waits for the deletion and finds the label gone,
    instead of failing the deletion's commit on the foreign key (a 500). After lock_project_labels."""
    list(Label.objects.select_for_update().filter(pk__in=list(label_ids)).order_by("pk").values_list("pk", flat=True))


def hold_membership(project: Project, user, doing: str) -> None:
    """Share-lock the user's membership of the project until the transaction ends (FOR KEY SHARE:
    the DELETE of a removal waits for it, other holders do not); refused when they are no longer a
    member. ``doing``: what was refused, for the message. Admins need no membership."""
    if user.is_superuser:
        return
    table = Membership._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT 1 FROM "{table}" WHERE project_id = %s AND user_id = %s FOR KEY SHARE',
                           [project.pk, user.pk])
            member = cursor.fetchone() is not None
    else:
        member = Membership.objects.filter(project=project, user=user).exists()
    if not member:
        raise not_a_member(project, doing)


def not_a_member(project: Project, doing: str) -> PermissionDenied:
    return PermissionDenied(f"You are no longer a member of project '{project.slug}'; {doing}.")
