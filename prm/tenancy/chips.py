"""Status chips: one tone per status word, the same on the portal and in the admin.

``<span class="chip chip-ok">Approved</span>``; the tones are ``ok``, ``warn``,
``bad``, ``info`` and ``muted`` (static/css/prm.css, "components: chips").
A status not named here is ``info``. Statuses of different models share
words ("approved" deal, "approved" payout run), and a word reads the same
everywhere, so one table serves every app without importing any.
"""

from django.utils.html import format_html
from django.utils.safestring import SafeString

TONES = ("ok", "warn", "bad", "info", "muted")

_TONE: dict[str, str] = {
    **dict.fromkeys(
        (
            *("active", "approved", "auto_approved", "won", "adjusted", "paid", "issued"),
            *("on_track", "met", "accepted", "published", "protected", "done", "ready"),
            "written",
        ),
        "ok",
    ),
    **dict.fromkeys(
        (
            *("onboarding", "prospect", "more_info_requested", "due_soon", "pending", "open"),
            *("conflict", "computing", "on_hold", "hold", "below_minimum", "expiring"),
            "review",
        ),
        "warn",
    ),
    **dict.fromkeys(
        (
            *("suspended", "terminated", "rejected", "expired", "lost", "breached", "missed"),
            *("failed", "reversed", "negative", "error", "at_risk"),
        ),
        "bad",
    ),
    **dict.fromkeys(("submitted", "answered", "new", "computed", "in_progress"), "info"),
    **dict.fromkeys(
        ("draft", "withdrawn", "paused", "closed", "cancelled", "revoked", "inactive", "retired"),
        "muted",
    ),
}


def tone(status: object) -> str:
    """The chip tone of a status value: ``tone("approved")`` → ``"ok"``."""
    return _TONE.get(str(status or "").strip().lower(), "info")


def chip(label: object, status: object = None, *, extra: str = "") -> SafeString:
    """A chip for the admin's ``format_html`` displays: ``chip("Approved",
    "approved")``; ``extra`` adds classes (kept as hooks for tests and
    scripts)."""
    classes = f"chip chip-{tone(status if status is not None else label)}"
    if extra:
        classes = f"{classes} {extra}"
    return format_html('<span class="{}">{}</span>', classes, label)
