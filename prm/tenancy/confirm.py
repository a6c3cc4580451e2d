"""Confirmation pages for destructive or irreversible actions.

A view that deletes, withdraws, rejects, cancels or reverses something asks
first, on a page that states what will happen ("Protection for Globex ends
today."). The page repeats the request's own inputs as hidden fields and
posts back to the same URL with ``confirm=yes``; only that request acts::

    page = confirm.ask(request, confirm.Confirmation(...))
    if page is not None:
        return page            # GET, or a POST not confirmed yet: nothing done
    services.withdraw(...)     # confirmed

The portal page is ``components/confirm.html`` (extends ``base.html``), the
admin's ``admin/confirm.html`` (extends ``admin/base_site.html``, with the
admin's breadcrumbs): ``admin_page`` gives it the admin site's context,
``ask_for_admin_action`` asks before a changelist's bulk action, and
``ActionFormsMixin.action_confirmation`` before a change page's form.
Both take the same context: ``title``, ``object_label``, ``consequences``
(sentences), ``action_label``, ``danger``, ``cancel_url`` and ``hidden``
(name/value pairs).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

CONFIRM_FIELD = "confirm"
CONFIRM_VALUE = "yes"
PORTAL_TEMPLATE = "components/confirm.html"
ADMIN_TEMPLATE = "admin/confirm.html"
# Never repeated as hidden inputs: the page adds its own token and answer.
_NOT_REPEATED = {"csrfmiddlewaretoken", CONFIRM_FIELD}


@dataclass(frozen=True)
class Confirmation:
    """What the page says: ``title`` ("Withdraw DR-7KQ2M9XA?"), the object
    in words, what will happen (one sentence each), the button's label and
    where "Cancel" goes. ``danger`` styles the button as destructive."""

    title: str
    object_label: str
    consequences: Sequence[str]
    action_label: str
    cancel_url: str
    danger: bool = True
    notes: Sequence[str] = field(default_factory=tuple)


def is_confirmed(request: HttpRequest) -> bool:
    """A POST that came from the confirmation page."""
    return request.method == "POST" and request.POST.get(CONFIRM_FIELD) == CONFIRM_VALUE


def hidden_inputs(
    request: HttpRequest, hidden: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None
) -> list[tuple[str, str]]:
    """The inputs the confirmation repeats: ``hidden`` if given, else every
    value the request posted (so a form's fields reach the confirmed POST
    unchanged, several values of one name included)."""
    if hidden is None:
        if request.method != "POST":
            return []
        return [
            (name, value)
            for name, values in request.POST.lists()
            if name not in _NOT_REPEATED
            for value in values
        ]
    pairs = hidden.items() if isinstance(hidden, Mapping) else hidden
    return [(str(name), "" if value is None else str(value)) for name, value in pairs]


def context(
    request: HttpRequest,
    confirmation: Confirmation,
    hidden: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "title": confirmation.title,
        "object_label": confirmation.object_label,
        "consequences": list(confirmation.consequences),
        "notes": list(confirmation.notes),
        "action_label": confirmation.action_label,
        "danger": confirmation.danger,
        "cancel_url": confirmation.cancel_url,
        "hidden": hidden_inputs(request, hidden),
        "confirm_field": CONFIRM_FIELD,
        "confirm_value": CONFIRM_VALUE,
    }


def page(
    request: HttpRequest,
    confirmation: Confirmation,
    *,
    hidden: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
    template: str = PORTAL_TEMPLATE,
    extra_context: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """The confirmation page itself (nothing is done)."""
    return TemplateResponse(
        request,
        template,
        {**(extra_context or {}), **context(request, confirmation, hidden)},
    )


def ask(
    request: HttpRequest,
    confirmation: Confirmation,
    *,
    hidden: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
    template: str = PORTAL_TEMPLATE,
    extra_context: Mapping[str, Any] | None = None,
) -> HttpResponse | None:
    """None once the person confirmed (the view goes on and acts); else the
    confirmation page to send (a GET, or a POST without ``confirm=yes``)."""
    if is_confirmed(request):
        return None
    return page(
        request, confirmation, hidden=hidden, template=template, extra_context=extra_context
    )


def admin_page(
    request: HttpRequest,
    confirmation: Confirmation,
    *,
    admin_site: Any,
    opts: Any = None,
    obj: Any = None,
    hidden: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
    action_url: str = "",
) -> HttpResponse:
    """The admin's confirmation page: the admin's layout, and breadcrumbs
    to the model's list and (if given) the object's page. It posts back to
    the page that asked, or to ``action_url``."""
    return page(
        request,
        confirmation,
        hidden=hidden,
        template=ADMIN_TEMPLATE,
        extra_context={
            **admin_site.each_context(request),
            "opts": opts,
            "original": obj,
            "action_url": action_url,
        },
    )


def ask_for_admin_action(
    modeladmin: Any, request: HttpRequest, confirmation: Confirmation
) -> HttpResponse | None:
    """``ask`` for a Django admin action (a changelist's bulk action): the
    page posts the same action and selection back to the list with
    ``confirm=yes``, which runs the action again, confirmed."""
    if is_confirmed(request):
        return None
    return admin_page(request, confirmation, admin_site=modeladmin.admin_site, opts=modeladmin.opts)


__all__ = [
    "CONFIRM_FIELD",
    "CONFIRM_VALUE",
    "Confirmation",
    "admin_page",
    "ask",
    "ask_for_admin_action",
    "hidden_inputs",
    "is_confirmed",
    "page",
]
