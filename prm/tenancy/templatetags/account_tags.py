"""Template filters of the "My account" pages."""

import re

from django import template

register = template.Library()

# Checked in order: Edge and Opera also name Chrome, Chrome also names Safari.
_BROWSERS = [
    ("Edge", r"Edg(?:e|A|iOS)?/"),
    ("Opera", r"OPR/"),
    ("Firefox", r"(?:Firefox|FxiOS)/"),
    ("Chrome", r"(?:Chrome|CriOS)/"),
    ("Safari", r"Safari/"),
]
_SYSTEMS = [
    ("iPhone", r"iPhone"),
    ("iPad", r"iPad"),
    ("Android", r"Android"),
    ("Windows", r"Windows"),
    ("macOS", r"Mac OS X|Macintosh"),
    ("ChromeOS", r"CrOS"),
    ("Linux", r"Linux"),
]


@register.filter
def browser(user_agent: str | None) -> str:
    """A browser's User-Agent header as people say it: "Firefox on Windows"
    ("Unknown browser" when it names none we know)."""
    agent = user_agent or ""
    name = next((n for n, pattern in _BROWSERS if re.search(pattern, agent)), "")
    system = next((n for n, pattern in _SYSTEMS if re.search(pattern, agent)), "")
    if name and system:
        return f"{name} on {system}"
    return name or (f"A browser on {system}" if system else "Unknown browser")
