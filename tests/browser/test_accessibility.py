"""Every portal page each role can open, on a desktop (1366 px) and a phone
(390 px): the page does not scroll sideways, ids are unique, axe-core finds
no serious or critical violation, and the Content-Security-Policy is kept.

The pages are not listed here: they come from the URL matrix
(tests/test_url_matrix.py, assembled from the apps' declarations), so a new
page is checked as soon as its app declares it. Every GET route a role may
open, with the objects the matrix builds for it, plus allauth's own
account pages, and for visitors not signed in the public ones (logging in,
password reset, an invitation's link, valid and not); a few extra
addresses show states the matrix's objects do not (a submitted
registration, one waiting for an answer, an issued statement). Downloads
(CSV, PDF) are not pages and are passed over. Staff also get the admin's
index, which the navigation links to (axe only: the admin is not laid out
for phones)."""

import uuid
from dataclasses import dataclass, field

import pytest
from django.urls import reverse
from playwright.sync_api import Error as PlaywrightError

from dealreg import services as dealreg
from dealreg import url_matrix as dealreg_matrix
from incentives.url_matrix import portal as incentives_matrix
from prm.tenancy.roles import ALL_ROLES, STAFF_ROLES, Role
from prm.tenancy.services import invite
from tests.test_url_matrix import ACCOUNT_LOGIN_REQUIRED, ACCOUNT_PUBLIC, PORTAL_ROUTES, Route
from tests.test_url_matrix import portal_url as matrix_url

from .a11y import check_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

WIDTHS = (1366, 390)
# Nobody signed in: the login page, password reset, an invitation's link.
ANONYMOUS = "anonymous"
# The persona whose account pages are checked: they are the same page for
# every role but the navigation, which each role's home already shows.
ACCOUNT_PAGES_ROLE = Role.PARTNER_ADMIN


@dataclass
class Target:
    path: str
    scroll: bool = True  # must fit the window's width
    roles: set[str] = field(default_factory=set)


def _more_info(world) -> str:
    """A registration the channel manager asked a question about."""
    with world.scope():
        registration = dealreg.submit(
            tenant=world.tenant,
            by=world[Role.PARTNER_USER],
            given=dealreg_matrix._input(world, "Question Customer", customer_domain="q.example"),
            client_token=uuid.uuid4(),
        )
        dealreg.request_info(
            registration, by=world[Role.CHANNEL_MANAGER], message="Which sites are included?"
        )
        return registration.code


def _invitation_link(world) -> str:
    with world.scope():
        _, token = invite(
            tenant=world.tenant,
            by=world[Role.PARTNER_ADMIN],
            email="new.colleague@example.test",
            role=Role.PARTNER_USER,
            partner=world.partner,
        )
    return reverse("accept_invitation", args=[token])


def site_data(world) -> list[Target]:
    """The pages to check (with the objects they show), made once."""
    targets = []
    for name, route in PORTAL_ROUTES.items():
        if route.method == "get":
            roles = {ANONYMOUS} if route.public else set(route.allowed)
            targets.append(Target(matrix_url(name, route, world), roles=roles))
    targets += [
        Target(matrix_url(name, Route(allowed=set()), world), roles={ANONYMOUS})
        for name in sorted(ACCOUNT_PUBLIC)
    ]
    targets.append(Target(_invitation_link(world), roles={ANONYMOUS}))
    partners = set(PORTAL_ROUTES["dealreg:detail"].allowed)
    submitted = dealreg_matrix.registration(world).code
    waiting = _more_info(world)
    statement = incentives_matrix.statement(world)
    targets += [
        Target(reverse("dealreg:detail", args=[submitted]), roles=partners),
        Target(reverse("dealreg:detail", args=[waiting]), roles=partners),
        Target(reverse("dealreg:answer", args=[waiting]), roles=partners),
        Target(
            f"{reverse('incentives:statement')}?period={statement.period_start:%Y-%m-%d}",
            roles=set(PORTAL_ROUTES["incentives:statement"].allowed),
        ),
        Target(reverse("tenant_admin:index"), scroll=False, roles=set(STAFF_ROLES)),
    ]
    targets += [
        Target(reverse(name), roles={ACCOUNT_PAGES_ROLE}) for name in sorted(ACCOUNT_LOGIN_REQUIRED)
    ]
    return targets


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("role", [*sorted(ALL_ROLES), ANONYMOUS])
def test_every_page_of_the_role_is_accessible(site, role, width):
    page, console = site.new_page(None if role == ANONYMOUS else role, width=width)
    failures: dict[str, list[str]] = {}
    seen: set[str] = set()
    for target in site.data:
        if role not in target.roles:
            continue
        try:
            response = page.goto(site.url(target.path))
        except PlaywrightError as error:
            if "Download is starting" in str(error):
                continue  # a file, not a page
            raise
        assert response is not None
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue  # a file shown inline (PDF, plain text), not a page
        if page.url in seen:
            continue  # redirected to a page checked already
        seen.add(page.url)
        problems = check_page(page, scroll=target.scroll)
        problems += [f"CSP: {v}" for v in console.csp_violations()]
        problems += [m for m in console.messages if m.startswith("pageerror")]
        console.messages.clear()  # the next page's messages only
        if problems:
            failures[f"{target.path} -> {page.url} ({response.status})"] = problems
    page.context.close()
    assert len(seen) >= 3, f"only {len(seen)} pages for {role}"
    report = "\n".join(
        f"{where}:\n  " + "\n  ".join(problems) for where, problems in failures.items()
    )
    assert not failures, f"{role} at {width} px:\n{report}"


def test_the_checks_find_what_they_look_for(site):
    """The checker on a page made to fail each check: a control without a
    label, an id used twice, text below AA contrast, a box wider than a
    phone, a link that hides its focus."""
    page, _ = site.new_page(None, width=390)
    page.goto(site.url("/accounts/login/"))  # the app's page, under its CSP
    page.evaluate(
        """() => {
          document.querySelector("main").insertAdjacentHTML("beforeend",
            '<input type="text" name="nameless">'
            + '<p id="twice">one</p><p id="twice">two</p>'
            + '<p style="color: #aaa; background: #fff">faint</p>'
            + '<div style="width: 600px">wide</div>'
            + '<a href="#here" style="outline: none">no ring</a>');
        }"""
    )
    problems = "\n".join(check_page(page))
    assert "scrolls sideways" in problems
    assert "ids used twice: ['twice']" in problems
    assert "axe critical label" in problems
    assert "axe serious color-contrast" in problems
    assert 'no visible focus indicator on [\'<a href="#here"' in problems
    page.context.close()
