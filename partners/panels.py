"""The panels other apps add to the partner's staff page (its admin change
page): declared as ``PRMApp.partner_panels``, read from the registry, so
the directory never imports the apps built on it."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from prm.tenancy.declarations import PartnerPanel
from prm.tenancy.registry import partner_panels
from prm.tenancy.requests import as_member

from .models import Partner


@dataclass(frozen=True)
class ShownPanel:
    panel: PartnerPanel
    html: SafeString


def shown_panels(request: HttpRequest, partner: Partner) -> list[ShownPanel]:
    """The declared panels this member may see on ``partner``'s page (any of
    a panel's permissions, on that partner), rendered in their order."""
    membership = as_member(request).membership
    shown = []
    for panel in partner_panels():
        if not any(membership.has_perm(perm, partner) for perm in panel.perms):
            continue
        context = {**panel.context(request, partner), "panel": panel, "partner": partner}
        html = render_to_string(panel.template, context, request=request)
        shown.append(ShownPanel(panel, SafeString(html)))
    return shown


def panel_css(shown: list[ShownPanel]) -> list[str]:
    """The stylesheets of the shown panels, each once, in order."""
    return list(dict.fromkeys(css for item in shown for css in item.panel.css))
