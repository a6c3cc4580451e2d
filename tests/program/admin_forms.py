"""Posting admin change forms the way a browser would: the rendered form's
values (every inline included), with some changed."""

from django import forms


def rendered(response) -> dict:
    """What the page's admin form would post back as rendered."""
    context = response.context
    assert "adminform" in context, getattr(response, "status_code", response)
    data: dict = {}
    parts = [context["adminform"].form]
    for inline in context.get("inline_admin_formsets") or []:
        parts.append(inline.formset.management_form)
        parts.extend(inline.formset.forms)
    for form in parts:
        for name, field in form.fields.items():
            key = form.add_prefix(name)
            value = form[name].value()
            if isinstance(field.widget, forms.CheckboxInput):
                if value:
                    data[key] = "on"
                continue
            data[key] = "" if value is None else str(value)
    return data


def errors(response) -> list[str]:
    """Every error message on the page's forms (fields, forms, formsets)."""
    context = response.context
    found = []
    form = context["adminform"].form
    found += [str(e) for errs in form.errors.values() for e in errs]
    for inline in context.get("inline_admin_formsets") or []:
        found += [str(e) for e in inline.formset.non_form_errors()]
        for f in inline.formset.forms:
            found += [str(e) for errs in f.errors.values() for e in errs]
    return found
