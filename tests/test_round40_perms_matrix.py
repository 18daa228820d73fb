"""Who may call what: every routed URL and method against every kind of caller.

The callers: anonymous; an annotator and a lead of the project; an annotator and a lead of another
project; a superuser; a staff user who is no superuser and no member; a member deactivated while
signed in (session and token); a member removed from the project while signed in (session and
token). Each project-scoped URL is classed as a member's (annotators too) or a lead's (leads and
admins), as the README's API section says. A refused caller must change nothing: the refusals are
sent with the write's real body and the project's rows are compared before and after.

``test_every_route_is_in_the_matrix`` keeps the matrix complete: a URL added without a row here fails.
"""
from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token

from labeling.annotations import leasing
from labeling.annotations.models import Annotation, Assignment, ReviewTask
from labeling.items.models import ImportBatch, Item
from labeling.modeling.models import ModelVersion, TaskRun
from labeling.projects.models import Label, Membership, Project, Rule, Source
from labeling.waves.models import Wave

from .test_annotation_helpers import answer, make_open_wave

pytestmark = pytest.mark.django_db

MEMBER, LEAD = "member", "lead"

# (name, method, path with {a}/{ids}, body builder, who may, is a page)
# Path fields: slug, rule, membership, item, batch, label, wave, model, task.
CASES = [
    # pages
    ("overview", "GET", "/p/{slug}/", None, MEMBER),
    ("annotate", "GET", "/p/{slug}/annotate/", None, MEMBER),
    ("dashboard", "GET", "/p/{slug}/dashboard/", None, LEAD),
    ("settings", "GET", "/p/{slug}/settings/", None, LEAD),
    ("settings-post", "POST", "/p/{slug}/settings/", {"wave_size": "7"}, LEAD),
    ("labels-page", "GET", "/p/{slug}/settings/labels/", None, LEAD),
    ("sources-page", "GET", "/p/{slug}/settings/sources/", None, LEAD),
    ("rules-page", "GET", "/p/{slug}/settings/rules/", None, LEAD),
    ("rules-post", "POST", "/p/{slug}/settings/rules/",
     lambda o: {"label": o["label"], "kind": "keyword", "pattern": "zzz", "enabled": "on"}, LEAD),
    ("rule-enable", "POST", "/p/{slug}/settings/rules/{rule}/enabled/", {"enabled": "0"}, LEAD),
    ("rule-delete", "POST", "/p/{slug}/settings/rules/{rule}/delete/", {}, LEAD),
    ("members-page", "GET", "/p/{slug}/members/", None, LEAD),
    ("members-post", "POST", "/p/{slug}/members/", lambda o: {"username": o["stranger"], "role": "lead"}, LEAD),
    ("member-remove", "POST", "/p/{slug}/members/{membership}/remove/", {}, LEAD),
    ("waves-page", "GET", "/p/{slug}/waves/", None, LEAD),
    ("waves-status", "GET", "/p/{slug}/waves/status.json", None, LEAD),
    ("wave-close", "POST", "/p/{slug}/waves/close/", lambda o: {"wave": o["wave"]}, LEAD),
    ("wave-plan", "POST", "/p/{slug}/waves/plan/", {}, LEAD),
    ("wave-open", "POST", "/p/{slug}/waves/open/", {}, LEAD),
    ("retrain-page", "POST", "/p/{slug}/models/retrain/", {}, LEAD),
    ("final-page", "POST", "/p/{slug}/models/final/", {}, LEAD),
    ("review-page", "GET", "/p/{slug}/review/", None, LEAD),
    ("review-page-post", "POST", "/p/{slug}/review/", lambda o: {"task": o["task"], "label": o["label"]}, LEAD),
    ("import-page", "GET", "/p/{slug}/import/", None, LEAD),
    ("import-detail", "GET", "/p/{slug}/import/{batch}/", None, LEAD),
    ("import-rejects", "GET", "/p/{slug}/import/{batch}/rejects.csv", None, LEAD),
    ("browse", "GET", "/p/{slug}/items/", None, LEAD),
    ("browse-bulk", "POST", "/p/{slug}/items/bulk/", lambda o: {"action": "exclude", "items": [o["item"]]}, LEAD),
    ("item-page", "GET", "/p/{slug}/items/{item}/", None, LEAD),
    ("export-page", "GET", "/p/{slug}/export/", None, LEAD),
    ("export-labels", "GET", "/p/{slug}/export/labels.csv", None, LEAD),
    ("export-model", "GET", "/p/{slug}/export/model.zip", None, LEAD),
    # API
    ("api-project", "GET", "/api/projects/{slug}/", None, MEMBER),
    ("api-project-patch", "PATCH", "/api/projects/{slug}/", {"wave_size": 7}, LEAD),
    ("api-labels", "GET", "/api/projects/{slug}/labels/", None, MEMBER),
    ("api-labels-post", "POST", "/api/projects/{slug}/labels/", {"name": "newlabel", "hotkey": "9"}, LEAD),
    ("api-label", "GET", "/api/projects/{slug}/labels/{label}/", None, MEMBER),
    ("api-label-patch", "PATCH", "/api/projects/{slug}/labels/{label}/", {"description": "changed"}, LEAD),
    ("api-label-delete", "DELETE", "/api/projects/{slug}/labels/{spare_label}/", None, LEAD),
    ("api-sources", "GET", "/api/projects/{slug}/sources/", None, MEMBER),
    ("api-sources-put", "PUT", "/api/projects/{slug}/sources/", lambda o: o["sources_body"], LEAD),
    ("api-rules", "GET", "/api/projects/{slug}/rules/", None, LEAD),
    ("api-rules-post", "POST", "/api/projects/{slug}/rules/",
     lambda o: {"label": o["label"], "kind": "keyword", "pattern": "zzz"}, LEAD),
    ("api-rule-preview", "POST", "/api/projects/{slug}/rules/preview/", {"kind": "keyword", "pattern": "item"}, LEAD),
    ("api-rule", "GET", "/api/projects/{slug}/rules/{rule}/", None, LEAD),
    ("api-rule-patch", "PATCH", "/api/projects/{slug}/rules/{rule}/", {"enabled": False}, LEAD),
    ("api-rule-delete", "DELETE", "/api/projects/{slug}/rules/{rule}/", None, LEAD),
    ("api-members", "GET", "/api/projects/{slug}/members/", None, LEAD),
    ("api-members-post", "POST", "/api/projects/{slug}/members/",
     lambda o: {"username": o["stranger"], "role": "lead"}, LEAD),
    ("api-member", "GET", "/api/projects/{slug}/members/{membership}/", None, LEAD),
    ("api-member-patch", "PATCH", "/api/projects/{slug}/members/{membership}/", {"role": "lead"}, LEAD),
    ("api-member-delete", "DELETE", "/api/projects/{slug}/members/{membership}/", None, LEAD),
    ("api-waves", "GET", "/api/projects/{slug}/waves/", None, MEMBER),
    ("api-wave-current", "GET", "/api/projects/{slug}/waves/current/", None, MEMBER),
    ("api-wave-composition", "GET", "/api/projects/{slug}/waves/{wave}/composition/", None, MEMBER),
    ("api-wave-plan", "POST", "/api/projects/{slug}/waves/plan/", {}, LEAD),
    ("api-wave-close", "POST", "/api/projects/{slug}/waves/{wave}/close/", {}, LEAD),
    ("api-wave-open", "POST", "/api/projects/{slug}/waves/{wave}/open/", {}, LEAD),
    ("api-models", "GET", "/api/projects/{slug}/models/", None, MEMBER),
    ("api-model", "GET", "/api/projects/{slug}/models/{model}/", None, MEMBER),
    ("api-retrain", "POST", "/api/projects/{slug}/models/retrain/", {}, LEAD),
    ("api-final", "POST", "/api/projects/{slug}/models/final/", {}, LEAD),
    ("api-dashboard", "GET", "/api/projects/{slug}/dashboard/", None, LEAD),
    ("api-predict", "POST", "/api/projects/{slug}/predict/", {"texts": ["hello"]}, MEMBER),
    ("api-imports", "GET", "/api/projects/{slug}/imports/", None, LEAD),
    ("api-import", "GET", "/api/projects/{slug}/imports/{batch}/", None, LEAD),
    ("api-items", "GET", "/api/projects/{slug}/items/", None, LEAD),
    ("api-items-bulk", "POST", "/api/projects/{slug}/items/bulk/",
     lambda o: {"action": "exclude", "items": [o["item"]]}, LEAD),
    ("api-item", "GET", "/api/projects/{slug}/items/{item}/", None, LEAD),
    ("api-answers", "GET", "/api/projects/{slug}/answers/", None, LEAD),
    ("api-batches", "POST", "/api/projects/{slug}/batches/", {}, MEMBER),
    ("api-renew", "POST", "/api/projects/{slug}/batches/renew/", lambda o: {"assignments": [o["assignment"]]}, MEMBER),
    ("api-annotate", "POST", "/api/projects/{slug}/annotations/",
     lambda o: {"client_id": str(uuid.uuid4()), "item": o["item"], "label": o["label"]}, MEMBER),
    ("api-undo", "POST", "/api/projects/{slug}/annotations/undo/", {}, MEMBER),
    ("api-history", "GET", "/api/projects/{slug}/annotations/history/", None, MEMBER),
    ("api-change", "POST", "/api/projects/{slug}/annotations/change/",
     lambda o: {"client_id": str(uuid.uuid4()), "supersedes": o["answer"], "clear": True}, MEMBER),
    ("api-agreement", "GET", "/api/projects/{slug}/agreement/", None, LEAD),
    ("api-review", "GET", "/api/projects/{slug}/review/", None, LEAD),
    ("api-review-post", "POST", "/api/projects/{slug}/review/", lambda o: {"task": o["task"], "label": o["label"]}, LEAD),
    ("api-review-groups", "GET", "/api/projects/{slug}/review/groups/", None, LEAD),
    ("api-review-bulk", "POST", "/api/projects/{slug}/review/bulk/",
     lambda o: {"action": "relabel", "tasks": [o["task"]], "label": o["label"]}, LEAD),
    ("api-tasks", "GET", "/api/projects/{slug}/tasks/", None, MEMBER),
    ("api-task", "GET", "/api/tasks/{taskrun}/", None, MEMBER),
    ("api-export-labels", "GET", "/api/projects/{slug}/export/jsonl/", None, LEAD),
    ("api-export-model", "GET", "/api/projects/{slug}/export/model/", None, LEAD),
]
# Routes that name no project: checked on their own (anonymous, any signed-in user).
UNSCOPED = {"", "projects/new/", "api/projects/", "api/auth/token/", "api/schema/", "api/docs/", "healthz",
            "accounts/login/", "accounts/logout/", "admin/login/"}


def _routes(resolver=None, prefix=""):
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if str(entry.pattern).startswith("admin/"):
                continue
            yield from _routes(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def _route_of(path: str) -> str:
    from django.urls import resolve

    return resolve(path).route


def test_every_route_is_in_the_matrix(perm_world):
    covered = {_route_of(_fill(path, perm_world["objects"]["A"])) for _n, _m, path, _b, _w in CASES}
    missing = sorted(r for r in set(_routes()) if r not in covered and r not in UNSCOPED)
    assert not missing, f"routes with no row in the permissions matrix: {missing}"


def _fill(path, objects):
    return path.format(**objects)


def _objects(project: Project, lead, ann, stranger) -> dict:
    wave, items = make_open_wave(project, 6, batch_size=3)
    held = leasing.lease_batch(project, ann)
    label = project.labels.order_by("pk").first()
    stored = answer(project, ann, held.assignments[0], label)
    annotation = stored.annotation if hasattr(stored, "annotation") else Annotation.objects.filter(
        project=project, annotator=ann).latest("pk")
    spare = Label.objects.create(project=project, name="spare", hotkey="8")
    rule = Rule.objects.create(project=project, label=label, kind="keyword", pattern="item")
    batch = ImportBatch.objects.create(project=project, filename="x.csv", state=ImportBatch.DONE)
    run = TaskRun.objects.create(project=project, kind="retrain", state=TaskRun.DONE)
    model = ModelVersion.objects.create(project=project, number=1, state=ModelVersion.ACTIVE,
                                        label_map=list(project.labels.values_list("name", flat=True)))
    task = ReviewTask.objects.create(project=project, item=items[4], reason=ReviewTask.LOW_CONFIDENCE)
    ann_membership = Membership.objects.get(project=project, user=ann)
    sources = [{"id": s.pk, "name": s.name, "quota": s.quota} for s in project.sources.order_by("pk")]
    return {"slug": project.slug, "rule": rule.pk, "membership": ann_membership.pk, "item": items[5].pk,
            "batch": batch.pk, "label": label.pk, "spare_label": spare.pk, "wave": wave.number,
            "model": model.number, "task": task.pk, "taskrun": run.pk, "answer": annotation.pk,
            "assignment": held.assignments[1].pk, "stranger": stranger.username, "sources_body": sources}


@pytest.fixture
def perm_world(make_user, project_factory):
    users = {name: make_user(name) for name in ("lead_a", "ann_a", "lead_b", "ann_b", "staff", "gone", "removed",
                                                 "stranger")}
    users["root"] = make_user("root", superuser=True)
    users["staff"].is_staff = True
    users["staff"].save()
    a, b = project_factory("pa"), project_factory("pb")
    for project, lead, ann in ((a, "lead_a", "ann_a"), (b, "lead_b", "ann_b")):
        project.batch_size = 3
        project.save()
        Membership.objects.create(project=project, user=users[lead], role=Membership.LEAD)
        Membership.objects.create(project=project, user=users[ann], role=Membership.ANNOTATOR)
    for name in ("gone", "removed"):
        Membership.objects.create(project=a, user=users[name], role=Membership.ANNOTATOR)
    objects = {"A": _objects(a, users["lead_a"], users["ann_a"], users["stranger"]),
               "B": _objects(b, users["lead_b"], users["ann_b"], users["stranger"])}
    # "removed" held an item of A before being removed (so the annotation API knows them).
    leasing.lease_batch(a, users["removed"])
    return {"users": users, "objects": objects, "A": a, "B": b}


def _session_and_token(user):
    client = Client()
    client.force_login(user)
    token = Token.objects.create(user=user).key
    return client, token


def _callers(world):
    """role name → list of (how, client, headers), after the mid-session changes."""
    users = world["users"]
    callers = {"anonymous": [("anonymous", Client(), {})]}
    for role in ("lead_a", "ann_a", "lead_b", "ann_b", "root", "staff", "gone", "removed"):
        client, token = _session_and_token(users[role])
        callers[role] = [("session", client, {}), ("token", Client(), {"HTTP_AUTHORIZATION": f"Token {token}"})]
    users["gone"].is_active = False
    users["gone"].save()
    Membership.objects.filter(project=world["A"], user=users["removed"]).delete()
    return callers


EXPECTED = {  # role → for a member's URL, for a lead's URL
    "lead_a": ("ok", "ok"), "root": ("ok", "ok"), "ann_a": ("ok", "forbidden"),
    "lead_b": ("hidden", "hidden"), "ann_b": ("hidden", "hidden"), "staff": ("hidden", "hidden"),
    "gone": ("signin", "signin"), "removed": ("refused", "refused"), "anonymous": ("signin", "signin"),
}


def _call(client, method, path, body, headers):
    is_api = path.startswith("/api/")
    if body is None:
        return getattr(client, method.lower())(path, **headers)
    if is_api:
        import json

        return client.generic(method, path, json.dumps(body), content_type="application/json", **headers)
    return client.post(path, body, **headers)


def _verdict(response, path, how) -> str:
    code = response.status_code
    if code in (401,) or (code == 302 and "/accounts/login/" in response.get("Location", "")):
        return "signin"
    if code == 404:
        return "hidden"
    if code == 403:
        return "forbidden"
    return "ok"


def _snapshot(project):
    return {
        "settings": Project.objects.filter(pk=project.pk).values("wave_size").first(),
        "labels": sorted(Label.objects.filter(project=project).values_list("pk", "name", "description")),
        "sources": sorted(Source.objects.filter(project=project).values_list("pk", "name", "quota")),
        "rules": sorted(Rule.objects.filter(project=project).values_list("pk", "pattern", "enabled")),
        "members": sorted(Membership.objects.filter(project=project).values_list("user_id", "role")),
        "waves": sorted(Wave.objects.filter(project=project).values_list("number", "state")),
        "answers": Annotation.objects.filter(project=project).count(),
        "live": Annotation.objects.filter(project=project, undone=False).count(),
        "leases": sorted(Assignment.objects.filter(wave_item__wave__project=project).values_list("pk", "state")),
        "tasks": sorted(ReviewTask.objects.filter(project=project).values_list("pk", "resolved_at")),
        "items": sorted(Item.objects.filter(project=project).values_list("pk", "excluded")),
        "runs": TaskRun.objects.filter(project=project).count(),
    }


ROLES = list(EXPECTED)


@pytest.mark.parametrize("role", [r for r in ROLES if r not in ("lead_a", "root")])
def test_refused_callers_get_the_documented_answer_and_change_nothing(perm_world, role):
    callers = _callers(perm_world)[role]
    objects = perm_world["objects"]["A"]
    wrong = []
    for name, method, path, body, who in CASES:
        want = EXPECTED[role][0 if who == MEMBER else 1]
        if want == "ok":
            continue
        for how, client, headers in callers:
            if how == "token" and not path.startswith("/api/"):
                continue  # pages take no token
            before = _snapshot(perm_world["A"])
            built = body(objects) if callable(body) else body
            response = _call(client, method, _fill(path, objects), built, headers)
            got = _verdict(response, path, how)
            if want == "refused":
                ok = got in ("hidden", "forbidden")
            else:
                ok = got == want
            changed = [k for k, v in _snapshot(perm_world["A"]).items() if before[k] != v]
            if not ok or changed:
                wrong.append(f"{name} {method} as {role} ({how}): {response.status_code} "
                             f"(want {want}){' changed ' + ','.join(changed) if changed else ''}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", ["lead_a", "root", "ann_a"])
def test_allowed_readers_are_let_in(perm_world, role):
    callers = _callers(perm_world)[role]
    objects = perm_world["objects"]["A"]
    wrong = []
    for name, method, path, body, who in CASES:
        if method != "GET" or EXPECTED[role][0 if who == MEMBER else 1] != "ok":
            continue
        for how, client, headers in callers:
            if how == "token" and not path.startswith("/api/"):
                continue
            response = _call(client, method, _fill(path, objects), body, headers)
            if response.status_code in (401, 403) or (response.status_code == 302 and "login" in response["Location"]):
                wrong.append(f"{name} as {role} ({how}): {response.status_code}")
    assert not wrong, "\n".join(wrong)


# Another project's object ids sent to this project's URLs and bodies (as its lead, or its annotator
# for the annotating endpoints): each must be refused (400/404/409 or a per-row skip) and neither
# project changed.
IDOR = [
    ("lead_a", "GET", "/api/projects/pa/labels/{label}/", None),
    ("lead_a", "PATCH", "/api/projects/pa/labels/{label}/", {"description": "x"}),
    ("lead_a", "DELETE", "/api/projects/pa/labels/{spare_label}/", None),
    ("lead_a", "PATCH", "/api/projects/pa/labels/{A_label}/", {"parent": "{label}"}),
    ("lead_a", "POST", "/api/projects/pa/labels/", {"name": "child", "parent": "{label}"}),
    ("lead_a", "GET", "/api/projects/pa/rules/{rule}/", None),
    ("lead_a", "PATCH", "/api/projects/pa/rules/{rule}/", {"enabled": False}),
    ("lead_a", "DELETE", "/api/projects/pa/rules/{rule}/", None),
    ("lead_a", "POST", "/api/projects/pa/rules/", {"label": "{label}", "kind": "keyword", "pattern": "qq"}),
    ("lead_a", "PATCH", "/api/projects/pa/rules/{A_rule}/", {"label": "{label}"}),
    ("lead_a", "GET", "/api/projects/pa/members/{membership}/", None),
    ("lead_a", "PATCH", "/api/projects/pa/members/{membership}/", {"role": "lead"}),
    ("lead_a", "DELETE", "/api/projects/pa/members/{membership}/", None),
    ("lead_a", "PUT", "/api/projects/pa/sources/", "SOURCES"),
    ("lead_a", "GET", "/api/projects/pa/items/{item}/", None),
    ("lead_a", "POST", "/api/projects/pa/items/bulk/", {"action": "exclude", "items": ["{item}"]}),
    ("lead_a", "POST", "/api/projects/pa/items/bulk/", {"action": "review", "items": ["{item}"]}),
    ("lead_a", "GET", "/api/projects/pa/imports/{batch}/", None),
    ("lead_a", "GET", "/api/tasks/{taskrun}/", None),
    ("lead_a", "POST", "/api/projects/pa/review/", {"task": "{task}", "label": "{A_label}"}),
    ("lead_a", "POST", "/api/projects/pa/review/", {"task": "{A_task}", "label": "{label}"}),
    ("lead_a", "POST", "/api/projects/pa/review/bulk/", {"action": "relabel", "tasks": ["{task}"], "label": "{A_label}"}),
    ("lead_a", "POST", "/api/projects/pa/review/bulk/", {"action": "relabel", "tasks": ["{A_task}"], "label": "{label}"}),
    ("lead_a", "POST", "/api/projects/pa/review/bulk/",
     {"action": "dismiss", "tasks": ["{task}"], "shown": [{"task": "{task}", "label": None, "model_version": None}]}),
    ("ann_a", "POST", "/api/projects/pa/annotations/", {"client_id": "NEW", "item": "{item}", "label": "{A_label}"}),
    ("ann_a", "POST", "/api/projects/pa/annotations/", {"client_id": "NEW", "assignment": "{assignment}", "label": "{A_label}"}),
    ("ann_a", "POST", "/api/projects/pa/annotations/", {"client_id": "NEW", "item": "{A_item}", "label": "{label}"}),
    ("ann_a", "POST", "/api/projects/pa/annotations/change/", {"client_id": "NEW", "supersedes": "{answer}", "clear": True}),
    ("ann_a", "POST", "/api/projects/pa/annotations/change/", {"client_id": "NEW", "supersedes": "{A_answer}", "label": "{label}"}),
    ("ann_a", "POST", "/api/projects/pa/annotations/undo/", {"client_id": "{answer_client}"}),
    ("ann_a", "POST", "/api/projects/pa/batches/renew/", {"assignments": ["{assignment}"]}),
    ("root", "POST", "/api/projects/pa/annotations/", {"client_id": "NEW", "item": "{A_item}", "label": "{label}"}),
    # pages
    ("lead_a", "POST", "/p/pa/settings/rules/{rule}/enabled/", {"enabled": "0"}),
    ("lead_a", "POST", "/p/pa/settings/rules/{rule}/delete/", {}),
    ("lead_a", "POST", "/p/pa/settings/rules/", {"label": "{label}", "kind": "keyword", "pattern": "qq", "enabled": "on"}),
    ("lead_a", "POST", "/p/pa/members/{membership}/remove/", {}),
    ("lead_a", "GET", "/p/pa/items/{item}/", None),
    ("lead_a", "POST", "/p/pa/items/bulk/", {"action": "exclude", "item": ["{item}"]}),
    ("lead_a", "GET", "/p/pa/import/{batch}/", None),
    ("lead_a", "GET", "/p/pa/import/{batch}/rejects.csv", None),
    ("lead_a", "POST", "/p/pa/review/", {"task": "{task}", "label": "{A_label}"}),
    ("lead_a", "POST", "/p/pa/review/", {"task": "{A_task}", "label": "{label}"}),
    ("lead_a", "POST", "/p/pa/review/", {"action": "relabel", "task": ["{task}"], "label": "{A_label}"}),
]


def _subst(value, ids):
    if isinstance(value, str):
        if value == "NEW":
            return str(uuid.uuid4())
        if value.startswith("{") and value.endswith("}"):
            return ids[value[1:-1]]
        return value.format(**ids)
    if isinstance(value, list):
        return [_subst(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _subst(v, ids) for k, v in value.items()}
    return value


def _ids(world):
    b, a = world["objects"]["B"], world["objects"]["A"]
    ids = dict(b)
    ids.update({f"A_{k}": v for k, v in a.items()})
    ids["answer_client"] = str(Annotation.objects.get(pk=b["answer"]).client_id)
    return ids


@pytest.mark.parametrize("case", range(len(IDOR)), ids=[f"{c[1]} {c[2]} {c[0]}" for c in IDOR])
def test_another_projects_ids_are_refused(perm_world, case):
    role, method, path, body = IDOR[case]
    ids = _ids(perm_world)
    user = perm_world["users"][role]
    client = Client()
    client.force_login(user)
    if body == "SOURCES":
        b_source = perm_world["B"].sources.order_by("pk").first()
        a_sources = list(perm_world["A"].sources.order_by("pk"))
        body = [{"id": a_sources[0].pk, "name": a_sources[0].name, "quota": 0.5},
                {"id": b_source.pk, "name": "taken", "quota": 0.5}]
        # the A source left out has items? it has none: only the first source holds items
    else:
        body = _subst(body, ids)
    before = (_snapshot(perm_world["A"]), _snapshot(perm_world["B"]))
    response = _call(client, method, _subst(path, ids), body, {})
    after = (_snapshot(perm_world["A"]), _snapshot(perm_world["B"]))
    changed = [f"{p}.{k}" for p, b4, af in (("A", before[0], after[0]), ("B", before[1], after[1]))
               for k in b4 if b4[k] != af[k]]
    assert not changed, f"{response.status_code} {response.content[:300]!r}: changed {changed}"
    if path.startswith("/api/"):
        assert response.status_code in (400, 404, 409) or (
            response.status_code == 200 and (response.json().get("skipped") or response.json().get("lost"))
        ), response.content[:300]
    else:  # a page: refused, or shown again with the form's error (and, as checked above, nothing stored)
        assert response.status_code in (200, 302, 404, 400), response.status_code


def _csrf_cases():
    return [(name, method, path, body) for name, method, path, body, _who in CASES if method != "GET"]


@pytest.mark.parametrize("case", _csrf_cases(), ids=[c[0] for c in _csrf_cases()])
def test_a_signed_in_write_without_the_csrf_token_is_refused(perm_world, case):
    """A cross-site form or fetch rides on the lead's session cookie but cannot read the CSRF token."""
    name, method, path, body = case
    objects = perm_world["objects"]["A"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(perm_world["users"]["lead_a"])
    before = _snapshot(perm_world["A"])
    built = body(objects) if callable(body) else body
    response = _call(client, method, _fill(path, objects), built if built is not None else {}, {})
    changed = [k for k, v in _snapshot(perm_world["A"]).items() if before[k] != v]
    assert response.status_code == 403 and not changed, (response.status_code, changed)


GET_ROUTES = [(name, path) for name, method, path, _b, _who in CASES if method == "GET"] + [
    ("home", "/"), ("projects", "/api/projects/"), ("schema", "/api/schema/"), ("docs", "/api/docs/"),
    ("create", "/projects/new/"), ("review-relabel", "/p/{slug}/review/?relabel={task}"),
    ("browse-walk", "/p/{slug}/items/?sort=confidence"), ("token", "/api/auth/token/"),
    ("logout", "/accounts/logout/"),
]


@pytest.mark.parametrize("role", ["lead_a", "ann_a", "root"])
def test_get_head_and_options_change_nothing(perm_world, role):
    objects = perm_world["objects"]["A"]
    user = perm_world["users"][role]
    wrong = []
    for name, path in GET_ROUTES:
        for verb in ("get", "head", "options"):
            if name == "docs" and verb == "options":
                continue  # test_options_on_the_api_docs_page_is_no_server_error
            client = Client()
            client.force_login(user)
            before = _snapshot(perm_world["A"])
            response = getattr(client, verb)(_fill(path, objects))
            changed = [k for k, v in _snapshot(perm_world["A"]).items() if before[k] != v]
            if changed or response.status_code >= 500:
                wrong.append(f"{verb.upper()} {name} as {role}: {response.status_code} changed {changed}")
    for name, method, path, _b, _who in CASES:  # the write endpoints' OPTIONS and HEAD
        if method == "GET":
            continue
        for verb in ("head", "options"):
            client = Client()
            client.force_login(user)
            before = _snapshot(perm_world["A"])
            response = getattr(client, verb)(_fill(path, objects))
            changed = [k for k, v in _snapshot(perm_world["A"]).items() if before[k] != v]
            if changed or response.status_code >= 500:
                wrong.append(f"{verb.upper()} {name} as {role}: {response.status_code} changed {changed}")
    assert not wrong, "\n".join(wrong)


def _links(html: str) -> list[str]:
    import re

    found = re.findall(r'(?:href|action)="(/[^"#]*)"', html)
    return [f.replace("&amp;", "&") for f in found if not f.startswith(("/static/", "/accounts/logout"))]


@pytest.mark.parametrize("role", ["ann_a", "lead_a", "root"])
def test_every_link_a_page_shows_opens_for_whoever_it_is_shown_to(perm_world, role):
    """Crawl from the home page as the role: a link or form target a page shows must not answer 403
    or 404 (or 500) to the user it was shown to."""
    client = Client()
    client.force_login(perm_world["users"][role])
    seen, queue, wrong, parents = set(), ["/"], [], {}
    while queue and len(seen) < 120:
        path = queue.pop(0)
        if path in seen or "/pb/" in path:
            continue
        seen.add(path)
        response = client.get(path)
        if response.status_code in (403, 404) or response.status_code >= 500:
            wrong.append(f"{path}: {response.status_code} (linked from {parents.get(path)})")
            continue
        if response.get("Content-Type", "").startswith("text/html") and response.status_code == 200:
            for link in _links(response.content.decode()):
                if link not in seen and not link.startswith("/admin/"):
                    queue.append(link)
                    parents.setdefault(link, path)
    assert len(seen) > (3 if role == "ann_a" else 30), sorted(seen)  # the crawl reached the pages
    assert not wrong, "\n".join(wrong)



def test_options_on_the_api_docs_page_is_no_server_error(perm_world):
    """OPTIONS is a safe method every other URL answers (200 with the API's metadata, or the page's
    own answer); on the Swagger page it raised TemplateDoesNotExist: a 500 and a traceback logged."""
    client = Client(raise_request_exception=False)
    client.force_login(perm_world["users"]["ann_a"])
    assert client.get("/api/docs/").status_code == 200
    response = client.options("/api/docs/")
    assert response.status_code < 500, response.status_code


def test_an_empty_lease_does_not_list_the_members_to_an_annotator(perm_world, make_user):
    """The README: members/ is for leads and admins, reads included (an annotator gets 403). An
    annotator whose lease comes back empty because the rest of the wave waits for a second answer
    is told who the other members are, by username and role."""
    a = perm_world["A"]
    users = perm_world["users"]
    ann = users["ann_a"]
    client = Client()
    client.force_login(ann)
    assert client.get("/api/projects/pa/members/").status_code == 403
    # a second wave whose items all need two answers; ann answers every one of them
    Wave.objects.filter(project=a).update(state=Wave.CLOSED)
    a.overlap = 2
    a.save()
    make_open_wave(a, 3, number=2, batch_size=3, double={0, 1, 2})
    label = a.labels.order_by("pk").first()
    for _ in range(5):  # what ann still held of wave 1 first, then wave 2's three items
        held = leasing.lease_batch(a, ann)
        for assignment in held.assignments:
            answer(a, ann, assignment, label)
    assert Annotation.objects.filter(annotator=ann, item__wave_picks__wave__number=2).count() == 3
    body = client.post("/api/projects/pa/batches/", {}, content_type="application/json").json()
    assert body["items"] == [] and body["waiting"]["reason"] == "second_annotator", body
    for other in ("lead_a", "removed", "gone"):
        assert users[other].username not in body["message"], body["message"]


UNSCOPED_WRITES = [
    ("POST", "/api/projects/", {"slug": "pz", "name": "Pz", "labels": ["a", "b"]}),
    ("DELETE", "/api/auth/token/", None),
    ("POST", "/projects/new/", {"slug": "pz", "name": "Pz", "labels": "a\nb", "sources": "web"}),
    ("POST", "/accounts/logout/", {}),
]


@pytest.mark.parametrize("case", UNSCOPED_WRITES, ids=[f"{m} {p}" for m, p, _b in UNSCOPED_WRITES])
def test_unscoped_writes_need_the_csrf_token_too(perm_world, case):
    method, path, body = case
    user = perm_world["users"]["lead_a"]
    token = Token.objects.create(user=user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = _call(client, method, path, body if body is not None else {}, {})
    assert response.status_code == 403, response.status_code
    assert not Project.objects.filter(slug="pz").exists()
    assert Token.objects.filter(pk=token.pk).exists()
    assert client.get("/").status_code == 200  # still signed in
