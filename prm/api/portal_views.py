"""The portal's "API keys" page: a partner admin's organisation's keys
(made by any of its admins), a new key acting as themselves with the scopes
their role may have, its token shown once, and revoking. Partner users may
not (403); another partner's key reads like a missing one (404)."""

import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import F, QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from prm import format as fmt
from prm.tenancy import confirm
from prm.tenancy.access import own_or_404, role_required, visible_or_404
from prm.tenancy.errors import add_service_error
from prm.tenancy.models import Membership
from prm.tenancy.params import page_of
from prm.tenancy.requests import MemberRequest
from prm.tenancy.services import AlreadyDone

from . import keys, reveal
from .declare import MANAGE_PARTNER_KEYS
from .forms import PartnerKeyForm
from .models import ApiKey

PAGE_SIZE = 50


def organisation_keys(membership: Membership) -> QuerySet[ApiKey]:
    """The keys acting as any member of ``membership``'s organisation."""
    assert membership.partner_id is not None  # a partner role's page
    return ApiKey.objects.filter(membership__partner_id=membership.partner_id).select_related(
        "membership__user", "created_by", "revoked_by"
    )


def _crumbs(here: str) -> list[tuple[str, str]]:
    return [(reverse("api_keys:list"), "API keys"), ("", here)]


@role_required(MANAGE_PARTNER_KEYS)
def key_list(request: MemberRequest) -> HttpResponse:
    page = page_of(
        request,
        Paginator(organisation_keys(request.membership).order_by("-created_at", "pk"), PAGE_SIZE),
    )
    rows = []
    for key in page.object_list:
        state = keys.state_of(key)
        rows.append(
            {
                "key": key,
                "state": state,
                "state_label": keys.STATE_LABELS[state],
                "scopes": keys.scope_labels(key.scopes),
            }
        )
    return render(request, "api/keys.html", {"rows": rows, "page_obj": page})


@role_required(MANAGE_PARTNER_KEYS)
def key_new(request: MemberRequest) -> HttpResponse:
    membership = request.membership
    data = request.POST if request.method == "POST" else None
    form = PartnerKeyForm(data, membership=membership, tenant=request.tenant)
    if form.is_valid():
        try:
            key, token = keys.create_key(
                tenant=request.tenant, membership=membership, by=request.user, **form.key_input()
            )
        except AlreadyDone:
            # The same form again: the first answer kept the token to show.
            return redirect("api_keys:created")
        except keys.ApiKeyError as exc:
            add_service_error(form, exc)
        else:
            reveal.keep(request, key, token)
            return redirect("api_keys:created")
    return render(
        request,
        "api/key_new.html",
        {"form": form, "scope_field": form["scopes"], "crumbs": _crumbs("Create a key")},
        status=400 if form.is_bound else 200,
    )


@never_cache
@role_required(MANAGE_PARTNER_KEYS)
def key_created(request: MemberRequest) -> HttpResponse:
    """The new key's token, this once; afterwards, that it is not shown again."""
    shown = reveal.take(request, organisation_keys(request.membership))
    key, token = shown if shown is not None else (None, "")
    return render(
        request,
        "api/key_created.html",
        {
            "key": key,
            "token": token,
            "scopes": keys.scope_labels(key.scopes) if key is not None else [],
            "crumbs": _crumbs("New key" if key is not None else "Key"),
        },
    )


@require_POST
@role_required()
def key_revoke(request: MemberRequest, key_id: uuid.UUID) -> HttpResponse:
    """Asks first (the confirmation page posts back with ``confirm=yes``)."""
    found = ApiKey.objects.annotate(owner_id=F("membership__partner_id")).select_related(
        "membership__user"
    )
    key = own_or_404(
        request, visible_or_404(found, pk=key_id), perm=MANAGE_PARTNER_KEYS, owner="owner_id"
    )
    last_used = fmt.moment(key.last_used_at) if key.last_used_at else "never"
    page = confirm.ask(
        request,
        confirm.Confirmation(
            title=f"Revoke the key “{key.name}”?",
            object_label=f"{key.name} · {key.display_prefix}… · acts as {key.membership.user}",
            consequences=[
                "Every request made with this key is refused from now on (401), "
                "whatever still uses it.",
                f"It was last used: {last_used}.",
                "A revoked key cannot be turned back on: to give access again, create a new key.",
            ],
            action_label="Revoke the key",
            cancel_url=reverse("api_keys:list"),
        ),
        hidden={},
    )
    if page is not None:
        return page
    try:
        keys.revoke_key(key, by=request.user)
    except keys.ApiKeyError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"The key “{key.name}” is revoked: it no longer works.")
    return redirect("api_keys:list")
