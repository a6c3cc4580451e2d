"""The apps' declarations (``<app>/declare.py``), collected and assembled.

The foundation reads what the apps declared only through these functions:
the permission table, the navigation, the home cards, the URL patterns, the
beat schedule, the demo-data steps, the URL-matrix specs and the metrics.
Each is checked once as it is assembled (a permission or beat entry declared
twice, a role that does not exist, a demo step waiting on an unknown app),
so a mistake fails at start-up, not on the page that uses it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache
from importlib import import_module
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string, module_has_submodule

from .declarations import (
    AtRiskRule,
    Card,
    DemoContext,
    FactSource,
    HealthComponent,
    Metric,
    NavEntry,
    NotificationKind,
    PartnerPanel,
    PortalGate,
    PRMApp,
    Refusal,
    Restriction,
    WebhookEvent,
)
from .roles import ALL_ROLES

DECLARATION_MODULE = "declare"
# What a webhook event key looks like: "registration.approved".
WEBHOOK_EVENT_KEY = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


@cache
def declared_apps() -> tuple[PRMApp, ...]:
    """Every installed app's declaration, in ``INSTALLED_APPS`` order."""
    found = []
    for config in apps.get_app_configs():
        if not module_has_submodule(config.module, DECLARATION_MODULE):
            continue
        module = import_module(f"{config.name}.{DECLARATION_MODULE}")
        declaration = getattr(module, "APP", None)
        if not isinstance(declaration, PRMApp):
            raise ImproperlyConfigured(
                f"{config.name}.{DECLARATION_MODULE} must define APP = PRMApp(...)."
            )
        found.append(declaration)
    labels = [app.label for app in found]
    if len(set(labels)) != len(labels):
        raise ImproperlyConfigured(f"Two apps declare the same label: {sorted(labels)}")
    return tuple(found)


def _roles(where: str, roles: Iterable[str]) -> frozenset[str]:
    roles = frozenset(roles)
    unknown = roles - ALL_ROLES
    if unknown:
        raise ImproperlyConfigured(f"{where} names roles that do not exist: {sorted(unknown)}")
    return roles


@cache
def permissions() -> dict[str, frozenset[str]]:
    """Permission name → the roles holding it, from every app."""
    table: dict[str, frozenset[str]] = {}
    owner: dict[str, str] = {}
    for app in declared_apps():
        for perm, roles in app.permissions.items():
            if perm in table:
                raise ImproperlyConfigured(
                    f"Permission {perm!r} is declared by both {owner[perm]} and {app.label}."
                )
            table[perm] = _roles(f"{app.label}: {perm}", roles)
            owner[perm] = app.label
    return table


@cache
def permission_owners() -> dict[str, str]:
    return {perm: app.label for app in declared_apps() for perm in app.permissions}


@cache
def object_scoped() -> dict[str, frozenset[str]]:
    """Permission name → roles that hold it only on objects assigned to them."""
    table = permissions()
    scoped: dict[str, frozenset[str]] = {}
    for app in declared_apps():
        for perm, roles in app.object_scoped.items():
            roles = _roles(f"{app.label}: object-scoped {perm}", roles)
            if perm not in table:
                raise ImproperlyConfigured(
                    f"{app.label} scopes {perm!r} to objects, but no app declares it."
                )
            if not roles <= table[perm]:
                raise ImproperlyConfigured(
                    f"{app.label} scopes {perm!r} for roles that do not hold it: "
                    f"{sorted(roles - table[perm])}"
                )
            scoped[perm] = scoped.get(perm, frozenset()) | roles
    return scoped


@cache
def navigation() -> tuple[NavEntry, ...]:
    entries = [entry for app in declared_apps() for entry in app.nav]
    return tuple(sorted(entries, key=lambda entry: entry.order))


@cache
def cards() -> tuple[Card, ...]:
    found = [card for app in declared_apps() for card in app.cards]
    keys = [card.key for card in found]
    if len(set(keys)) != len(keys):
        raise ImproperlyConfigured(f"Two home cards share a key: {sorted(keys)}")
    return tuple(sorted(found, key=lambda card: card.order))


def url_modules() -> list[tuple[str, str]]:
    """(URL prefix, URL module) of every app that has pages."""
    return [(app.url_prefix, app.urls) for app in declared_apps() if app.urls]


@cache
def beat_schedule() -> dict[str, dict[str, Any]]:
    schedule: dict[str, dict[str, Any]] = {}
    for app in declared_apps():
        for name, entry in app.beat.items():
            if name in schedule:
                raise ImproperlyConfigured(f"Beat entry {name!r} is declared twice.")
            if "task" not in entry or "schedule" not in entry:
                raise ImproperlyConfigured(f"Beat entry {name!r} needs a task and a schedule.")
            schedule[name] = dict(entry)
    return schedule


def demo_steps() -> list[tuple[str, Callable[[DemoContext], None]]]:
    """(app label, step) of every app with demo data, each after the apps it
    names in ``demo_after`` (which must be installed and declare a step)."""
    steps = {app.label: app for app in declared_apps() if app.demo}
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(label: str, path: tuple[str, ...]) -> None:
        if label in ordered:
            return
        if label in visiting:
            raise ImproperlyConfigured(f"Demo steps wait on each other: {' -> '.join(path)}")
        if label not in steps:
            raise ImproperlyConfigured(
                f"{path[-2]}'s demo step runs after {label!r}, which has no demo step."
            )
        visiting.add(label)
        for before in steps[label].demo_after:
            visit(before, (*path, before))
        visiting.discard(label)
        ordered.append(label)

    for label in steps:
        visit(label, (label,))
    return [(label, import_string(str(steps[label].demo))) for label in ordered]


def api_modules() -> list[str]:
    """The apps' API modules (``PRMApp.api``), in app order."""
    return [app.api for app in declared_apps() if app.api]


def url_matrix_modules() -> list[str]:
    """Dotted paths of the apps' URL-matrix specs (tests only)."""
    return [app.url_matrix for app in declared_apps() if app.url_matrix]


@cache
def metrics() -> dict[str, Metric]:
    """Metric key → metric, from every app, in declaration order."""
    found: dict[str, Metric] = {}
    for app in declared_apps():
        for metric in app.metrics:
            if metric.key in found:
                raise ImproperlyConfigured(f"Metric {metric.key!r} is declared twice.")
            found[metric.key] = metric
    return found


@cache
def fact_sources() -> tuple[FactSource, ...]:
    """Every app's rollup facts, in declaration order. A fact or series name
    is declared once, and every metric's ``rollup`` names declared ones."""
    sources: list[FactSource] = []
    names: set[str] = set()
    for app in declared_apps():
        for source in app.facts:
            for name in (*source.facts, *source.series):
                if name in names:
                    raise ImproperlyConfigured(f"Rollup fact {name!r} is declared twice.")
                names.add(name)
            sources.append(source)
    for metric in metrics().values():
        rollup = metric.rollup
        if rollup is None:
            continue
        wanted = {
            getattr(rollup, attribute)
            for attribute in ("fact", "part", "whole", "other", "series")
            if hasattr(rollup, attribute)
        }
        if wanted - names:
            raise ImproperlyConfigured(
                f"Metric {metric.key} reads undeclared rollup facts {sorted(wanted - names)}."
            )
    return tuple(sources)


@cache
def notification_kinds() -> dict[str, NotificationKind]:
    """Notification kind key → its declaration, from every app, in
    declaration order. A key must start with its app's label."""
    found: dict[str, NotificationKind] = {}
    for app in declared_apps():
        for kind in app.notification_kinds:
            if kind.key in found:
                raise ImproperlyConfigured(f"Notification kind {kind.key!r} is declared twice.")
            if not kind.key.startswith(f"{app.label}."):
                raise ImproperlyConfigured(
                    f"{app.label} declares notification kind {kind.key!r}: "
                    f"it must start with {app.label + '.'!r}."
                )
            _roles(f"{app.label}: notification kind {kind.key}", kind.roles)
            found[kind.key] = kind
    return found


def _unique_keys(what: str, found: list[tuple[str, Any]]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for key, item in found:
        if key in table:
            raise ImproperlyConfigured(f"{what} {key!r} is declared twice.")
        table[key] = item
    return table


@cache
def health_components() -> dict[str, HealthComponent]:
    """Health component key → its declaration, from every app, in
    declaration order."""
    return _unique_keys(
        "Health component",
        [(c.key, c) for app in declared_apps() for c in app.health_components],
    )


@cache
def at_risk_rules() -> dict[str, AtRiskRule]:
    """At-risk rule key → its declaration, from every app."""
    return _unique_keys(
        "At-risk rule", [(r.key, r) for app in declared_apps() for r in app.at_risk_rules]
    )


@cache
def partner_panels() -> tuple[PartnerPanel, ...]:
    """The panels of the partner's staff page, in their order."""
    found = _unique_keys(
        "Partner panel", [(p.key, p) for app in declared_apps() for p in app.partner_panels]
    )
    return tuple(sorted(found.values(), key=lambda panel: panel.order))


@cache
def gates() -> tuple[PortalGate, ...]:
    """The portal gates of every app, in app order."""
    found = _unique_keys("Portal gate", [(g.key, g) for app in declared_apps() for g in app.gates])
    return tuple(found.values())


@cache
def restrictions() -> dict[str, tuple[Restriction, ...]]:
    """Action -> the restrictions of every app on it, in app order (a key
    is declared once)."""
    found = _unique_keys(
        "Restriction", [(r.key, r) for app in declared_apps() for r in app.restrictions]
    )
    by_action: dict[str, tuple[Restriction, ...]] = {}
    for restriction in found.values():
        by_action[restriction.action] = (*by_action.get(restriction.action, ()), restriction)
    return by_action


def refusal(action: str, partner: Any) -> Refusal | None:
    """The first refusal of ``action`` to ``partner`` among the apps'
    restrictions (None: allowed). Each restriction keeps to one query."""
    for restriction in restrictions().get(action, ()):
        found = restriction.refuses(partner)
        if found is not None:
            return found
    return None


@cache
def webhook_events() -> dict[str, WebhookEvent]:
    """Webhook event key -> its declaration, from every app, in declaration
    order (a key is declared once, product-wide, and reads like
    "registration.approved": lowercase words joined by dots)."""
    found = _unique_keys(
        "Webhook event", [(e.key, e) for app in declared_apps() for e in app.webhook_events]
    )
    for key in found:
        if not WEBHOOK_EVENT_KEY.fullmatch(key):
            raise ImproperlyConfigured(
                f"Webhook event {key!r}: use lowercase words joined by dots, "
                "e.g. 'registration.approved'."
            )
    return found


def check() -> None:
    """Assemble everything once (start-up calls this)."""
    permissions()
    object_scoped()
    navigation()
    cards()
    beat_schedule()
    demo_steps()
    metrics()
    notification_kinds()
    health_components()
    at_risk_rules()
    partner_panels()
    gates()
    restrictions()
    webhook_events()


def role_has_perm(role: str, perm: str) -> bool:
    return role in permissions().get(perm, frozenset())


def is_object_scoped(role: str, perm: str) -> bool:
    return role in object_scoped().get(perm, frozenset())
