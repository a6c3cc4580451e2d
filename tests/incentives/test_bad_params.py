"""Bad query parameters on the incentives pages, portal and admin: a notice
on the page saying what is shown instead, or the branded 400 for a file."""

import pytest
from django.urls import reverse

from prm.tenancy.roles import Role

from .test_payout_admin import change_url, in_review


def notices(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.mark.parametrize("value", ["abc", "1; drop", "99999999999999999999"])
def test_disputes_page_that_is_none(acme, value):
    response = acme.client(Role.PARTNER_ADMIN).get("/incentives/disputes/", {"page": value})
    assert response.status_code == 200
    (notice,) = notices(response)
    assert f"“{value}”" in notice and "showing" in notice


@pytest.mark.parametrize("value", ["abc", "2026-13", "1; drop"])
def test_statement_lines_page_that_is_none(acme, value):
    response = acme.client(Role.PARTNER_ADMIN).get("/incentives/statement/", {"page": value})
    assert response.status_code == 200
    assert any(f"“{value}”" in n for n in notices(response))


@pytest.mark.parametrize("value", ["garbage", "1; drop"])
def test_payout_run_lines_with_a_status_that_is_none(acme, value):
    run = in_review(acme, "120")
    response = acme.client(Role.FINANCE).get(change_url(run), {"status": value})
    assert response.status_code == 200
    assert f"“{value}” is not a line status; showing every line." in notices(response)
    assert response.context["status_filter"] == ""
    assert len(response.context["lines"]) == 1


def test_adjustment_prefill_that_is_no_partner(acme):
    url = reverse("tenant_admin:incentives_ledgerentry_add")
    response = acme.client(Role.FINANCE).get(url, {"partner": "abc"})
    assert response.status_code == 200
    assert "“abc” is not a partner; choose one." in notices(response)


class TestStaffStatement:
    URL = "/admin/incentives/statement/partner/"

    def test_a_partner_that_is_no_id_is_a_form_error(self, acme):
        response = acme.client(Role.FINANCE).get(self.URL, {"partner": "abc"})
        assert response.status_code == 200
        assert response.context["form"].errors["partner"]

    def test_a_file_for_a_period_that_is_none_is_the_branded_400(self, acme):
        client = acme.client(Role.FINANCE)
        for wanted in ("csv", "pdf"):
            response = client.get(
                self.URL, {"partner": str(acme.partner.pk), "period": "garbage", "format": wanted}
            )
            assert response.status_code == 400
            body = response.content.decode()
            assert 'data-testid="error-page"' in body
            assert "The file was not made: “garbage” is not a statement period." in body


class TestPayoutRunActions:
    def test_an_action_that_is_none_is_the_branded_400(self, acme):
        run = in_review(acme, "120")
        response = acme.client(Role.FINANCE).post(change_url(run), {"_action": "garbage"})
        assert response.status_code == 400
        body = response.content.decode()
        assert 'data-testid="error-page"' in body
        assert "“garbage” is not an action of this page." in body

    @pytest.mark.parametrize("value", ["abc", "1; drop", "99999999999999999999", ""])
    def test_holding_a_line_that_is_no_id_is_a_form_error(self, acme, globex, value):
        run = in_review(acme, "120")
        client = acme.client(Role.FINANCE)
        response = client.post(change_url(run), {"_action": "hold", "line": value, "reason": "x"})
        assert response.status_code == 200
        with acme.scope():
            assert not run.lines.filter(status="hold").exists()

    def test_holding_another_runs_line_is_404(self, acme, globex):
        run = in_review(acme, "120")
        theirs = in_review(globex, "50")
        with globex.scope():
            their_line = theirs.lines.get()
        response = acme.client(Role.FINANCE).post(
            change_url(run), {"_action": "hold", "line": str(their_line.pk), "reason": "x"}
        )
        assert response.status_code == 404
