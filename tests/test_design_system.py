"""Guards of the design system (issue #15): the templates format through
{% load prm %}, statuses are chips, and the colour tokens meet WCAG AA."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted(
    p
    for p in ROOT.glob("**/templates/**/*")
    if p.is_file() and p.suffix in {".html", ".txt"} and ".venv" not in p.parts
)
# machine-readable dates (datetime="…") and a month's name are the exceptions
ALLOWED_DATE_FORMATS = {"c", "F Y"}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_format_through_the_prm_filters(path):
    text = path.read_text()
    for fmt in re.findall(r"\|date:[\"']([^\"']*)[\"']", text):
        assert fmt in ALLOWED_DATE_FORMATS, f"|date:{fmt!r}: use |day or |moment"
    assert "floatformat" not in text, "use |money:currency or |number"
    assert "|pluralize" not in text, 'use |plural:"word"'
    assert "(s)" not in text, 'use |plural:"word"'
    assert not re.search(r"class=\"[^\"]*(?<![-\w])badge(?![-\w])", text), "use .chip chip-*"
    assert "load statement_tags" not in text


def test_the_guard_sees_the_templates():
    names = {p.name for p in TEMPLATES}
    assert {"base.html", "list.html", "_statement.html", "invitation.txt"} <= names


def _tokens(css: str) -> dict[str, str]:
    return dict(re.findall(r"(--[a-z-]+):\s*(#[0-9a-fA-F]{6})", css))


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


# (text, background): every pair the components put text on
PAIRS = [
    ("--ink", "--card"),
    ("--ink", "--bg"),
    ("--muted", "--card"),
    ("--muted", "--bg"),
    ("--brand", "--card"),
    ("--brand", "--bg"),
    ("--brand-ink", "--brand"),
    ("--brand-ink", "--brand-dark"),
    ("--brand", "--brand-soft"),
    ("--ok", "--ok-soft"),
    ("--warn", "--warn-soft"),
    ("--bad", "--bad-soft"),
    ("--info", "--info-soft"),
    ("--quiet", "--quiet-soft"),
]


@pytest.mark.parametrize(
    "css", ["static/css/prm.css", "static/admin/prm-admin.css"], ids=["portal", "admin"]
)
def test_text_colours_meet_aa(css):
    tokens = _tokens((ROOT / css).read_text())
    for text, background in PAIRS:
        ratio = contrast(tokens[text], tokens[background])
        assert ratio >= 4.5, f"{css}: {text} on {background} is {ratio:.2f}:1"


def test_portal_and_admin_share_the_palette():
    portal = _tokens((ROOT / "static/css/prm.css").read_text())
    admin = _tokens((ROOT / "static/admin/prm-admin.css").read_text())
    shared = {name for name, _ in PAIRS} | {b for _, b in PAIRS}
    assert {n: portal[n] for n in shared} == {n: admin[n] for n in shared}


def test_contrast_is_computed_right():
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") < 4.5 < contrast("#767676", "#ffffff")
