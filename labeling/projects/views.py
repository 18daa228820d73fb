"""Lead pages: create a project, settings, labels, sources & quotas, members, and the wave control
room (composition, close / retrain / plan buttons, running tasks). Leads and admins only. The rules
page: rules_views."""
import copy
import re
from contextlib import nullcontext

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from labeling.annotations.context import metadata_keys
from labeling.annotations.waiting import members_short
from labeling.items.import_lock import SourcesBusy, lock_sources_for_change, sources_change_atomic
from labeling.loop.runs import open_retrain_run, run_stage, task_run_dict, task_runs
from labeling.loop.triggers import planning_blocker, request_final_model, request_retrain
from labeling.modeling import selectors as modeling_selectors
from labeling.modeling.models import TaskRun
from labeling.modeling.versions import active_model
from labeling.waves import selectors as wave_selectors
from labeling.waves import services as waves
from labeling.waves.models import Wave

from . import selectors, services
from .forms import LabelFormSet, MemberForm, ProjectCreateForm, ProjectSettingsForm, SourceFormSet
from .locks import lock_project_labels
from .membership import remove_member, set_member
from .models import Membership, Project
from .permissions import project_for, role_in

# A wave number as the waves page's forms post it (ASCII digits only: int() would take "٣").
WAVE_NUMBER = re.compile(r"[0-9]{1,9}")


def _errors_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _save_if_valid(request, form, save, *, success: str, next_page: str, slug: str, errors_on_form: bool = True):
    """The POST half of a lead's edit page: with a valid form (or formset) run ``save()``; a
    ValidationError from the service goes onto the form (or, for formsets, into a message) and the
    page re-renders; success flashes ``success`` and redirects. Returns the redirect or None."""
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        save()
    except ValidationError as exc:
        if errors_on_form:
            form.add_error(None, _errors_text(exc))
        else:
            messages.error(request, _errors_text(exc))
        return None
    messages.success(request, success)
    return redirect(next_page, slug=slug)


def _lead_page(request, project, template, status=200, **context):
    return render(request, template, {"project": project, "section": template.rsplit("/", 1)[-1][:-5], **context},
                  status=status)


def _refused_status(form) -> int:
    """409 when a page was refused because someone else saved since it loaded, else 200 (the page
    with its errors, as every lead page answers a refused save)."""
    return 409 if form.is_bound and form.saved_meanwhile() else 200


def project_create(request):
    if not services.can_create_projects(request.user):
        raise PermissionDenied("Only admins and project leads may create projects.")
    form = ProjectCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.create_project(
                request.user, slug=form.cleaned_data["slug"], name=form.cleaned_data["name"],
                description=form.cleaned_data["description"], labels=form.label_names(),
                sources=form.source_names(), other_label=form.cleaned_data["other_label"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Project “{project.name}” created; you are its lead.")
            return redirect("project-labels", slug=project.slug)
    return render(request, "projects/create.html", {"form": form})


def _judged_under_lock(request):
    """A save is judged stale against what is stored when it runs: a POST reads the stored rows
    under the lock its save takes (the caller takes it first thing in this transaction), so a
    colleague's save that commits while this request waits for the lock is read, not overwritten.
    Read at the start of the request instead, a save committed in the milliseconds before the lock
    was missed. A GET takes no lock."""
    return transaction.atomic() if request.method == "POST" else nullcontext()


def project_settings(request, slug):
    project = project_for(request.user, slug, manage=True)
    with _judged_under_lock(request):
        if request.method == "POST":
            project = Project.objects.select_for_update().get(pk=project.pk)  # what update_settings locks
        # The form's validation writes the posted values onto its instance: a copy, so that a refused
        # save's page shows the stored project (its name in the title), not the values refused.
        form = ProjectSettingsForm(request.POST or None, instance=copy.copy(project))
        done = _save_if_valid(request, form, lambda: services.update_settings(project, form.changes()),
                              success="Settings saved.", next_page="project-settings", slug=slug)
    if done:
        return done
    return _lead_page(request, project, "projects/settings.html", status=_refused_status(form), form=form,
                      metadata_keys=metadata_keys(project))


def project_labels(request, slug):
    project = project_for(request.user, slug, manage=True)
    with _judged_under_lock(request):
        if request.method == "POST":
            lock_project_labels(project)  # what save_labels locks first
        formset = LabelFormSet(request.POST or None, project=project, prefix="labels")
        gone = []  # the rules deleted with a deleted label: said with the success, they are the lead's work
        done = _save_if_valid(request, formset,
                              lambda: gone.extend(services.save_labels(project, formset.rows(),
                                                                       formset.deleted_labels())),
                              success="Labels saved.", next_page="project-labels", slug=slug, errors_on_form=False)
    if done:
        for text in gone:
            messages.warning(request, text)
        return done
    return _lead_page(request, project, "projects/labels.html", status=_refused_status(formset), formset=formset)


def project_sources(request, slug):
    project = project_for(request.user, slug, manage=True)
    busy = done = None
    try:  # SQLite (the demo) waits for an import at the transaction's start: a bounded time too
        with sources_change_atomic(project) if request.method == "POST" else nullcontext():
            if request.method == "POST":  # what replace_sources locks, in id order; an import's write a bounded time
                lock_sources_for_change(project)
            formset = SourceFormSet(request.POST or None, project=project, prefix="sources")
            done = _save_if_valid(request, formset, lambda: services.replace_sources(project, formset.kept_rows()),
                                  success="Sources and quotas saved.", next_page="project-sources", slug=slug,
                                  errors_on_form=False)
    except SourcesBusy as exc:  # the page again with the lead's rows, to save once the import has ended
        busy = exc
        formset = SourceFormSet(request.POST, project=project, prefix="sources")
        messages.error(request, _errors_text(busy))
    if done:
        return done
    status = 409 if busy is not None else _refused_status(formset)
    return _lead_page(request, project, "projects/sources.html", status=status, formset=formset)


def project_members(request, slug):
    project = project_for(request.user, slug, manage=True)
    form = MemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            set_member(project, form.user, form.cleaned_data["role"])
        except ValidationError as exc:  # e.g. the last lead stepping down
            messages.error(request, _errors_text(exc))
        else:
            messages.success(request, f"{form.user.username} is now {form.cleaned_data['role']} here.")
            return _after_member_change(request, project)
    return _lead_page(request, project, "projects/members.html", form=form,
                      members=selectors.members(project))


@require_POST
def member_remove(request, slug, membership_id):
    project = project_for(request.user, slug, manage=True)
    membership = get_object_or_404(Membership, project=project, pk=membership_id)
    try:
        remove_member(membership)
    except ValidationError as exc:
        messages.error(request, _errors_text(exc))
    else:
        messages.success(request, f"{membership.user.username} removed from the project.")
    return _after_member_change(request, project)


def _after_member_change(request, project):
    """Back to the members page, unless the change took the requester's own right to it (a lead
    who stepped down or left): then the project's overview, or the home page once no longer a
    member, so that they read the success message rather than a 403 or "No such project"."""
    project._roles = {}  # the role project_for cached for this request is the one before the change
    role = role_in(request.user, project)
    if role in {"admin", "lead"}:
        return redirect("project-members", slug=project.slug)
    return redirect("project-overview", slug=project.slug) if role else redirect("home")


def project_waves(request, slug):
    project = project_for(request.user, slug, manage=True)
    wave = wave_selectors.working_wave(project)
    composition = wave_selectors.composition_rows(wave) if wave else []
    live = open_retrain_run(project)
    model = active_model(project)
    recent = [selectors.wave_dict(w, with_progress=False) for w in selectors.recent_waves(project)]
    return _lead_page(
        request, project, "projects/waves.html", wave=selectors.wave_dict(wave) if wave else None,
        composition=composition, tasks=[task_run_dict(t) for t in task_runs(project, limit=20)],
        waves=recent, newest_wave_number=recent[0]["number"] if recent else 0,  # the Plan form's "newest"
        active_model=model, model_choices=modeling_selectors.model_choices(model),
        budget=selectors.budget_or_none(project), live_run=task_run_dict(live) if live else None,
        members_short=members_short(project),
    )


def waves_status(request, slug):
    """Poll JSON for the wave page: running tasks and the current wave's progress."""
    project = project_for(request.user, slug, manage=True)
    wave = wave_selectors.working_wave(project)
    return JsonResponse({"tasks": [task_run_dict(t) for t in task_runs(project, limit=20)],
                         "wave": selectors.wave_dict(wave) if wave else None})


def _loop_action(request, slug, action):
    project = project_for(request.user, slug, manage=True)
    try:
        text = action(project)
    except ValidationError as exc:
        messages.error(request, _errors_text(exc))
    except ValueError as exc:  # the loop refuses with a reason (e.g. budget spent, nothing to plan)
        messages.error(request, str(exc))
    else:
        messages.success(request, text)
    return redirect("project-waves", slug=slug)


def _retrain_text(run) -> str:
    """What a retrain request did, from the run as it is now (in-process it may have finished)."""
    run.refresh_from_db()
    if run.state == TaskRun.DONE:
        return f"Retrain finished (task {run.pk}). {run.message}"
    if run.state == TaskRun.FAILED:
        # An in-process failure's message already starts "Retrain failed: " (loop.triggers): said once.
        why = run.message.removeprefix("Retrain failed: ")
        raise ValueError(f"Retrain failed (task {run.pk}): {why}")
    asked = Project.objects.filter(pk=run.project_id).values_list("retrain_followup", flat=True).first() or {}
    if asked.get("after") == run.pk:  # it had read the labels already (loop.triggers.request_retrain)
        return (f"A retrain is running (task {run.pk}, {run_stage(run)}) on the labels it read before this request: "
                "a follow-up retrain runs when it ends, and its model plans the next wave. "
                "Progress is shown under Background tasks.")
    return (f"Retraining (task {run.pk}, {run_stage(run)}): the new model then plans and opens the next wave. "
            "Progress is shown under Background tasks.")


def _shown_wave_number(request, doing: str) -> int:
    """The wave number the page's form was rendered for (its hidden ``wave`` field). The page's
    button acts on that wave only: the working wave at POST time may be another one (a second
    lead's stale page, a double-click after the first click closed it)."""
    raw = request.POST.get("wave", "")
    if not WAVE_NUMBER.fullmatch(raw):
        raise ValueError(f"The form did not say which wave to {doing}; reload the waves page and try again. "
                         "Nothing was changed.")
    return int(raw)


def _stale_wave_text(project, number: int, done: str) -> str:
    """Why the wave a page showed is no longer the one its button acts on, and what is current now."""
    shown = Wave.objects.filter(project=project, number=number).values_list("state", flat=True).first()
    was = {None: f"There is no wave {number}", Wave.CLOSED: f"Wave {number} is already closed",
           Wave.DISCARDED: f"Wave {number} was discarded", Wave.OPEN: f"Wave {number} is already open",
           }.get(shown, f"Wave {number} is {shown}")
    now = wave_selectors.working_wave(project)
    if now is not None and now.number == number:
        return f"{was}. Nothing was {done} again."
    current = f"wave {now.number} is {now.state} now" if now else "no wave is open or planned now"
    return f"{was}; {current}. Nothing was {done}: reload the page to see the current wave."


@require_POST
def wave_close(request, slug):
    def action(project):
        number = _shown_wave_number(request, "close")
        # The check and the close under the project's row lock (close_wave takes it too): no other
        # close, plan or open can change which wave is the working one in between.
        with transaction.atomic():
            Project.objects.select_for_update().filter(pk=project.pk).first()
            wave = wave_selectors.working_wave(project)
            if wave is None or wave.number != number:
                raise ValueError(_stale_wave_text(project, number, "closed"))
            waves.close_wave(wave)
        closed = f"Wave {wave.number} {'discarded (it never opened)' if wave.state == 'discarded' else 'closed'}."
        if request.POST.get("retrain"):
            closed += " " + _retrain_text(request_retrain(project, reason="wave_closed"))
        return f"{closed} {wave_selectors.close_note(wave)}"

    return _loop_action(request, slug, action)


@require_POST
def wave_plan(request, slug):
    def action(project):
        # The page sends the newest wave it showed: a wave planned since (a second lead's plan, or a
        # double-click's first post) makes this post plan nothing, checked under the project's row
        # lock so that two posts at once take turns.
        # (planning_blocker first, outside: the embedding it may queue must not roll back with a refusal)
        busy = planning_blocker(project)
        if busy:
            raise ValueError(busy)
        shown = request.POST.get("newest")
        with transaction.atomic() if shown is not None else nullcontext():
            if shown is not None:
                Project.objects.select_for_update().filter(pk=project.pk).first()
                newest = Wave.objects.filter(project=project).order_by("-number").values_list("number", flat=True).first()
                if shown != str(newest or 0):
                    raise ValueError(f"Wave {newest} was planned since this page loaded (by another lead, or a first "
                                     "click); nothing was planned: reload the page to see it.")
            wave = waves.plan_next_wave(project)
            opened = waves.open_wave_if_idle(project, wave)
        said = wave_selectors.planning_sentences(wave.report)  # planned short, overlap cut, partial rule match
        if opened:
            return f"Wave {wave.number} planned ({wave.size} items) and opened for annotators.{said}"
        return f"Wave {wave.number} planned ({wave.size} items); it can be opened once the open wave is closed.{said}"

    return _loop_action(request, slug, action)


@require_POST
def wave_open(request, slug):
    def action(project):
        number = _shown_wave_number(request, "open")
        with transaction.atomic():  # check and open under the project's row lock, as wave_close
            Project.objects.select_for_update().filter(pk=project.pk).first()
            wave = wave_selectors.working_wave(project)
            if wave is None or wave.number != number or wave.state != Wave.PLANNED:
                raise ValueError(_stale_wave_text(project, number, "opened"))
            if not waves.open_wave_if_idle(project, wave):
                raise ValueError("Another wave is still open; close it first.")
        return f"Wave {wave.number} opened for annotators."

    return _loop_action(request, slug, action)


@require_POST
def model_retrain(request, slug):
    def action(project):
        return _retrain_text(request_retrain(project, reason="manual"))

    return _loop_action(request, slug, action)


@require_POST
def model_final(request, slug):
    def action(project):
        run = request_final_model(project)
        run.refresh_from_db()
        if run.state == TaskRun.FAILED:
            raise ValueError(f"Final model failed (task {run.pk}): {run.message}")
        if run.state == TaskRun.DONE:
            return f"Final model (task {run.pk}): {run.message}"
        return (f"Training the final model (task {run.pk}): the encoder is fine-tuned on the labels; it is served "
                "only if it beats the frozen encoder on the same held-out folds. Progress is shown under "
                "Background tasks.")

    return _loop_action(request, slug, action)
