"""The portal's frame (templates/base.html): the main menu, its phone toggle
and the user menu."""

import re

import pytest

pytestmark = pytest.mark.django_db


def current_links(page: str) -> list[str]:
    nav = page.split('<nav class="mainnav"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'<a href="([^"]+)" aria-current="page"', nav)


def test_the_menu_entry_of_the_section_stays_marked_on_its_pages(acme):
    client = acme.client("partner_admin")
    assert current_links(client.get("/").content.decode()) == ["/"]
    assert current_links(client.get("/incentives/").content.decode()) == ["/incentives/"]
    # a page under the section: its entry, not Home
    assert current_links(client.get("/incentives/disputes/").content.decode()) == ["/incentives/"]


def test_phone_menu_toggle_and_script_without_inline_code(acme):
    page = acme.client("partner_user").get("/").content.decode()
    # the toggle is hidden until prm.js shows it: without JS the menu is a list
    assert (
        '<button type="button" class="nav-toggle" aria-controls="mainnav" '
        'aria-expanded="false" hidden>Menu</button>' in page
    )
    assert '<nav class="mainnav" id="mainnav" aria-label="Main">' in page
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts == ['<script src="/static/js/prm.js" defer>']
    assert "<script>" not in page and "onclick" not in page


def test_the_user_menu_holds_account_and_log_out_not_the_main_menu(acme):
    page = acme.client("partner_admin").get("/").content.decode()
    nav = page.split('<nav class="mainnav"', 1)[1].split("</nav>", 1)[0]
    user_menu = page.split('<details class="usermenu', 1)[1].split("</details>", 1)[0]
    assert "My account" not in nav and "My account" in user_menu
    assert "Log out" in user_menu
    assert f"Partner admin · {acme.partner.name}" in user_menu
