"""A form renderer for pages of many form rows (the labels page: up to 1,000 rows of 11 fields). Django
renders each widget through its template (input.html, attrs.html, one template per <option>), about a
millisecond a widget: 300 labels took seconds for the widgets alone. This renderer writes the same
HTML for the plain widgets in Python, escaped as the templates escape it, and hands every other
template (error lists, other widgets) to Django's renderer."""
from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import mark_safe

INPUT_TEMPLATES = {f"django/forms/widgets/{kind}.html" for kind in ("text", "number", "hidden", "checkbox", "input")}


def _attrs(attrs: dict) -> str:
    """attrs.html: `` name="value"`` each, a True value as the bare name, a False one left out."""
    return mark_safe("".join(
        f" {conditional_escape(name)}" if value is True else f' {conditional_escape(name)}="{conditional_escape(str(value))}"'
        for name, value in attrs.items() if value is not False))


def _input(widget: dict) -> str:
    value = "" if widget["value"] is None else format_html(' value="{}"', str(widget["value"]))
    return format_html('<input type="{}" name="{}"{}{}>', widget["type"], widget["name"], value, _attrs(widget["attrs"]))


def _textarea(widget: dict) -> str:
    return format_html('<textarea name="{}"{}>\n{}</textarea>', widget["name"], _attrs(widget["attrs"]),
                       widget["value"] or "")


def _select(widget: dict) -> str:
    if any(group_name for group_name, _, _ in widget["optgroups"]):
        return None  # optgroups: Django's template
    options = format_html_join("", '\n  <option value="{}"{}>{}</option>', (
        (str(option["value"]), _attrs(option["attrs"]), option["label"])
        for _, group, _ in widget["optgroups"] for option in group))
    return format_html('<select name="{}"{}>{}\n</select>', widget["name"], _attrs(widget["attrs"]), options)


WRITERS = {"django/forms/widgets/textarea.html": _textarea, "django/forms/widgets/select.html": _select,
           **{name: _input for name in INPUT_TEMPLATES}}


class RowRenderer(DjangoTemplates):
    def render(self, template_name, context, request=None):
        if template_name.startswith("django/forms/errors/") and not context.get("errors"):
            return ""  # what the error list templates write for no errors: each field renders its list
        writer = WRITERS.get(template_name)
        html = writer(context["widget"]) if writer and "widget" in context else None
        return html if html is not None else super().render(template_name, context, request)
