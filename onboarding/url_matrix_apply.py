"""The public application pages' part of onboarding's URL matrix: open to
anyone (``public``), a token no tenant knows gives the "not valid" page."""

from typing import Any

from prm.tenancy.roles import ALL_ROLES

PORTAL_ROUTES: dict[str, dict[str, Any]] = {
    "onboarding:apply": {"allowed": ALL_ROLES, "public": True},
    "onboarding:apply_confirm": {
        "allowed": ALL_ROLES,
        "public": True,
        "args": lambda w: ["no-such-token"],
    },
    "onboarding:apply_answer": {
        "allowed": ALL_ROLES,
        "public": True,
        "args": lambda w: ["no-such-token"],
    },
}
