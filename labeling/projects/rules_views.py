"""The rules page (a lead's keyword/regex rules): list, create, enable or disable, delete. Every
write goes through the services the API calls (services.save_rule, services.delete_rule), so a
change re-plans a waiting cold-start wave the same way from both."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from . import services
from .forms import RuleForm
from .models import Rule
from .permissions import project_for
from .views import _errors_text, _lead_page


def _saved(text: str, note: str) -> str:
    return f"{text} {note}" if note else text


def project_rules(request, slug):
    project = project_for(request.user, slug, manage=True)
    form = RuleForm(request.POST or None, project=project)
    if request.method == "POST" and form.is_valid():
        try:
            rule = services.save_rule(project, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, _errors_text(exc))
        else:
            messages.success(request, _saved("Rule saved.", rule.replan_note))
            return redirect("project-rules", slug=slug)
    rules = Rule.objects.filter(project=project).select_related("label").order_by("label__name", "pattern")
    return _lead_page(request, project, "projects/rules.html", form=form, rules=rules)


@require_POST
def rule_enable(request, slug, rule_id):
    """Turn a stored rule on or off (the form's ``enabled``: "1" or "0"), as PATCH rules/<id>/ does."""
    project = project_for(request.user, slug, manage=True)
    rule = get_object_or_404(Rule.objects.select_related("label"), project=project, pk=rule_id)
    wanted = request.POST.get("enabled")
    if wanted not in ("0", "1"):
        messages.error(request, "The form did not say whether to enable or disable the rule; reload the page and "
                                "try again. Nothing was changed.")
        return redirect("project-rules", slug=slug)
    try:
        rule = services.save_rule(project, rule, enabled=wanted == "1")
    except ValidationError as exc:
        messages.error(request, _errors_text(exc))
    else:
        done = "enabled" if rule.enabled else "disabled"
        messages.success(request, _saved(f"Rule “{rule.pattern}” → {rule.label.name} {done}.", rule.replan_note))
    return redirect("project-rules", slug=slug)


@require_POST
def rule_delete(request, slug, rule_id):
    project = project_for(request.user, slug, manage=True)
    rule = get_object_or_404(Rule, project=project, pk=rule_id)
    note = services.delete_rule(project, rule)
    messages.success(request, _saved(f"Rule “{rule.pattern}” deleted.", note))
    return redirect("project-rules", slug=slug)
