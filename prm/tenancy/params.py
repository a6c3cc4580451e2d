"""Query parameters a person can mistype, and how a page answers them.

A page never answers a bad parameter with an error page or, worse, with a
silent wrong answer (all rows for a filter it could not read). It shows what
it can, with a notice that names the value it ignored and what it shows
instead ("“abc” is not a page number; showing page 1."). A download cannot
carry a notice: it answers the 400 page with the same sentence
(``BadRequest``, rendered by ``prm.tenancy.outage.bad_request``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import BadRequest
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.http import HttpRequest
from django.http.response import HttpResponseBase

SHOWN_CHARACTERS = 40


def quoted(value: object) -> str:
    """A request value for a sentence: quoted, cut to a readable length."""
    text = str(value)
    if len(text) > SHOWN_CHARACTERS:
        text = text[: SHOWN_CHARACTERS - 1] + "…"
    return f"“{text}”"


def notice(request: HttpRequest, message: str) -> None:
    """A notice on the page being rendered (the messages it shows)."""
    messages.warning(request, message)


def page_of(request: HttpRequest, paginator: Paginator[Any], parameter: str = "page") -> Page[Any]:
    """The page ``?page=`` asks for; the first or the last, with a notice
    saying so, when it names none."""
    raw = request.GET.get(parameter, "")
    if raw == "":
        return paginator.page(1)
    try:
        return paginator.page(raw)
    except PageNotAnInteger:
        notice(request, f"{quoted(raw)} is not a page number; showing page 1.")
        return paginator.page(1)
    except EmptyPage:
        if _below_one(raw):
            notice(request, f"There is no page {quoted(raw)}; showing page 1.")
            return paginator.page(1)
        last = paginator.num_pages
        notice(request, f"There is no page {quoted(raw)}; showing the last page ({last}).")
        return paginator.page(last)


def _below_one(raw: str) -> bool:
    try:
        return int(float(raw)) < 1
    except (TypeError, ValueError, OverflowError):
        return True


def filter_notices(request: HttpRequest, form: forms.Form) -> None:
    """A notice for each field of a GET filter form that could not be read:
    the form's ``cleaned_data`` holds only the fields that could, which the
    page then applies (and a reader sees which filter was dropped)."""
    if form.is_valid():
        return
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        raw = form.data.get(form.add_prefix(name), "")
        label = (field.label if field is not None and field.label else name).lower()
        if isinstance(field, forms.ChoiceField) and raw:
            shown = _empty_choice_label(field) or f"every {label}"
            notice(request, f"{quoted(raw)} is not a {label} here; showing {shown}.")
        else:
            reason = " ".join(str(e) for e in errors).rstrip(".")
            notice(request, f"The {label} filter was ignored: {reason}.")


def _empty_choice_label(field: forms.ChoiceField) -> str:
    choices: Any = field.choices
    for value, label in choices:
        if value == "":
            return str(label)[:1].lower() + str(label)[1:]
    return ""


def refuse_download(form: forms.Form) -> None:
    """``BadRequest`` naming the first unreadable field of a download's
    filter form: a file filtered otherwise than asked is a wrong answer."""
    if form.is_valid():
        return
    name, errors = next(iter(form.errors.items()))
    raw = form.data.get(form.add_prefix(name), "")
    field = form.fields.get(name)
    label = (field.label if field is not None and field.label else name).lower()
    raise BadRequest(
        f"The file was not made: {quoted(raw)} is not a {label} here "
        f"({' '.join(str(e) for e in errors).rstrip('.')})."
    )


NUL = "\x00"


class RefuseNulMiddleware:
    """A NUL character in the address or its query (``%00``) is refused with
    the 400 page before any view runs: no text the service stores may hold
    one (PostgreSQL refuses it in every query), so a page asked for with one
    could only fail. (Form fields refuse it themselves, with a field error.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if (
            NUL in request.path
            or NUL in request.META.get("QUERY_STRING", "")
            or any(
                NUL in key or any(NUL in value for value in values)
                for key, values in request.GET.lists()
            )
        ):
            raise BadRequest(
                "The address contains a character that no page here can use (a NUL, %00): "
                "it may have been cut short or edited."
            )
        return self.get_response(request)
