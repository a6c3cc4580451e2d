"""Accessibility and phone-width checks of the page a Playwright page shows.

axe-core (vendored in ``vendor/``, see its README) is evaluated into the page
through the DevTools protocol, which the page's Content-Security-Policy does
not govern: the app itself never serves or allows it, and the policy stays
on for everything the page loads (the CSP listener of conftest.py still
reports the app's own violations)."""

from pathlib import Path

from playwright.sync_api import Page

AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
# Impacts that fail a page (axe's scale: minor, moderate, serious, critical).
FAILING_IMPACTS = ("serious", "critical")

# One round trip: the layout facts and axe's verdict on the current document.
# ``scrollWidth`` of the root element is the page's width including anything
# that overflows it; a table that scrolls inside its own box does not count.
CHECK = """
async (impacts) => {
  const ids = {};
  for (const el of document.querySelectorAll("[id]")) {
    ids[el.id] = (ids[el.id] || 0) + 1;
  }
  const wide = [];
  if (document.documentElement.scrollWidth > window.innerWidth) {
    for (const el of document.body.querySelectorAll("*")) {
      const box = el.getBoundingClientRect();
      if (box.right > window.innerWidth + 1 && box.width > 0) {
        const parent = el.parentElement.getBoundingClientRect();
        if (parent.right <= window.innerWidth + 1) {
          const cls = el.getAttribute("class");
          wide.push(el.tagName.toLowerCase() + (cls ? "." + cls : "")
                    + " right=" + Math.round(box.right));
        }
      }
    }
  }
  // Every control a keyboard reaches, focused as the keyboard would focus
  // it: the browser must draw an indicator (outline or box-shadow).
  const before = document.activeElement;
  const unringed = [];
  const controls = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, '
    + '[tabindex]:not([tabindex="-1"])');
  for (const el of controls) {
    if (el.disabled || !el.getClientRects().length) continue;
    el.focus({focusVisible: true, preventScroll: true});
    if (document.activeElement !== el) continue;
    const style = getComputedStyle(el);
    const ring = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0)
      || style.boxShadow !== "none";
    if (!ring) unringed.push(el.outerHTML.slice(0, 80));
  }
  // Leave the focus, and where the next Tab starts, as they were: a test
  // may go on with the keyboard.
  if (before && before !== document.body) {
    before.focus({preventScroll: true});
  } else {
    const start = document.createElement("span");
    start.tabIndex = -1;
    document.body.prepend(start);
    start.focus({preventScroll: true});
    start.remove();
  }
  // "region" (content outside landmarks) is never worse than moderate and
  // is the slowest rule on long pages.
  const result = await axe.run(document, {
    resultTypes: ["violations"],
    rules: {region: {enabled: false}},
  });
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    wide: wide.slice(0, 5),
    duplicateIds: Object.keys(ids).filter((id) => ids[id] > 1),
    unringed: unringed.slice(0, 5),
    violations: result.violations
      .filter((v) => impacts.includes(v.impact))
      .map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        targets: v.nodes.slice(0, 5).map((n) => {
          const why = (n.failureSummary || "").split("\\n").slice(1, 3).join(" ");
          return n.target.join(" ") + ": " + why.trim();
        }),
      })),
  };
}
"""


def inject_axe(page: Page) -> None:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SOURCE)


def check_page(page: Page, *, scroll: bool = True) -> list[str]:
    """What is wrong with the page shown, in words (empty: nothing).

    ``scroll``: whether the page must fit the window's width (portal pages
    must, at every width; the Django admin is checked for axe only)."""
    inject_axe(page)
    found = page.evaluate(CHECK, list(FAILING_IMPACTS))
    problems = []
    if scroll and found["scrollWidth"] > found["innerWidth"]:
        problems.append(
            f"scrolls sideways: {found['scrollWidth']} px wide in a {found['innerWidth']} px "
            f"window; overflowing: {found['wide']}"
        )
    if found["duplicateIds"]:
        problems.append(f"ids used twice: {found['duplicateIds']}")
    if found["unringed"]:
        problems.append(f"no visible focus indicator on {found['unringed']}")
    for v in found["violations"]:
        problems.append(f"axe {v['impact']} {v['id']}: {v['help']} at {v['targets']}")
    return problems
