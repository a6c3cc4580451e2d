"""Moving through a page with the keyboard only, as a person who does not use
a mouse does: Tab to the next control, and a visible focus indicator on
every control that receives focus on the way."""

from playwright.sync_api import Page

# The focused element: what a screen reader would call it, and whether the
# browser draws a focus indicator (an outline, the UA's focus ring, or a
# box-shadow) around it.
FOCUSED = r"""() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const ring = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0)
    || style.boxShadow !== "none";
  let name = el.getAttribute("aria-label") || "";
  if (!name && el.labels && el.labels.length) name = el.labels[0].innerText;
  if (!name) name = el.innerText || el.value || el.getAttribute("title") || "";
  return {
    tag: el.tagName.toLowerCase(),
    type: el.getAttribute("type") || "",
    name: name.trim().replace(/\s+/g, " "),
    ring: ring,
    html: el.outerHTML.slice(0, 120),
  };
}"""


def tab_to(page: Page, name: str, *, exact: bool = True, limit: int = 120) -> dict:
    """Press Tab until the focused control is called ``name`` (or starts
    with it when ``exact`` is false); every control passed on the way must
    show where the focus is."""
    passed: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:
            continue
        assert focused["ring"], f"no visible focus indicator on {focused['html']}"
        if focused["name"] == name or (not exact and focused["name"].startswith(name)):
            return focused
        passed.append(focused["name"])
    raise AssertionError(f"{name!r} is not reached with Tab; focus passed: {passed}")


def skip_to_content(page: Page) -> None:
    """Follow the page's "Skip to main content" link, the first stop of the
    Tab order, past the top bar (portal) or the navigation (admin)."""
    page.keyboard.press("Tab")
    focused = page.evaluate(FOCUSED)
    assert focused is not None and focused["name"] == "Skip to main content", focused
    assert focused["ring"], f"no visible focus indicator on {focused['html']}"
    page.keyboard.press("Enter")
