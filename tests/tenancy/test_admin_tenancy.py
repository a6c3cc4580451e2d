"""The tenant admin's own screens: people, invitations, settings, audit log."""

import pytest
from django.core import mail

from prm.tenancy.models import AuditEntry, Invitation, Membership
from prm.tenancy.roles import Role

pytestmark = pytest.mark.django_db


def test_admin_login_goes_through_allauth(acme):
    response = acme.client().get("/admin/login/?next=/admin/partners/partner/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2Fpartners%2Fpartner%2F"


def test_admin_index_lists_only_what_the_role_may_see(acme):
    body = acme.client(Role.EXECUTIVE).get("/admin/").content.decode()
    assert "/admin/partners/partner/" in body
    assert "/admin/tenancy/invitation/" not in body  # ops only
    assert "Recent actions" not in body  # Django's cross-tenant log sidebar is off
    ops = acme.client(Role.OPS_ADMIN).get("/admin/").content.decode()
    assert "/admin/tenancy/invitation/" in ops


def test_ops_invites_through_the_admin_and_the_mail_goes_out_on_commit(
    acme, django_capture_on_commit_callbacks
):
    client = acme.client(Role.OPS_ADMIN)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/tenancy/invitation/add/",
            {
                "email": "New.Person@Example.test",
                "role": Role.PARTNER_USER,
                "partner": str(acme.partner.pk),
            },
        )
    assert response.status_code == 302
    with acme.scope():
        invitation = Invitation.objects.get(email="new.person@example.test")
        assert invitation.partner == acme.partner
        assert AuditEntry.objects.filter(action="invitation.sent").count() == 1
    assert len(mail.outbox) == 1
    assert "http://acme.localhost/invitations/" in mail.outbox[0].body


def test_admin_invitation_partner_choices_are_the_tenants_own(acme, globex):
    client = acme.client(Role.OPS_ADMIN)
    page = client.get("/admin/tenancy/invitation/add/").content.decode()
    assert str(acme.partner.pk) in page
    assert str(globex.partner.pk) not in page
    response = client.post(
        "/admin/tenancy/invitation/add/",
        {"email": "x@example.test", "role": Role.PARTNER_USER, "partner": str(globex.partner.pk)},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    with acme.scope():
        assert not Invitation.objects.filter(email="x@example.test").exists()


def test_partner_role_invitation_without_partner_is_a_field_error(acme):
    response = acme.client(Role.OPS_ADMIN).post(
        "/admin/tenancy/invitation/add/", {"email": "y@example.test", "role": Role.PARTNER_ADMIN}
    )
    assert response.status_code == 200
    assert "Partner roles must name the partner organisation." in response.content.decode()


def test_deactivate_action_runs_the_service_and_is_audited(acme):
    target = acme[Role.PARTNER_USER]
    response = acme.client(Role.OPS_ADMIN).post(
        "/admin/tenancy/membership/",
        {"action": "deactivate", "_selected_action": [str(target.pk)]},
    )
    # Asked first, on the admin's confirmation page: nothing done yet.
    assert response.status_code == 200
    assert response.templates[0].name == "admin/confirm.html"
    assert "can no longer sign in to Acme Corp" in response.content.decode()
    with acme.scope():
        assert Membership.objects.get(pk=target.pk).is_active
    response = acme.client(Role.OPS_ADMIN).post(
        "/admin/tenancy/membership/",
        {"action": "deactivate", "_selected_action": [str(target.pk)], "confirm": "yes"},
    )
    assert response.status_code == 302
    with acme.scope():
        assert not Membership.objects.get(pk=target.pk).is_active
        entry = AuditEntry.objects.get(action="membership.deactivated")
        assert entry.actor == acme[Role.OPS_ADMIN].user
    # The deactivated person's next request ends their session.
    assert acme.client(Role.PARTNER_USER).get("/").status_code == 302


def test_ops_changes_program_settings_of_their_own_tenant(acme, globex):
    client = acme.client(Role.OPS_ADMIN)
    url = f"/admin/tenancy/tenantsettings/{acme.tenant.pk}/change/"
    bad = client.post(
        url, {"name": "Acme", "timezone": "Nowhere/City", "base_currency": "EU", "country": "DE"}
    )
    assert bad.status_code == 200
    assert "not a known time zone" in bad.content.decode()
    assert "three-letter ISO 4217" in bad.content.decode()
    acme.tenant.refresh_from_db()
    assert acme.tenant.name == "Acme Corp"
    response = client.post(
        url,
        {
            "name": "Acme Renamed",
            "timezone": "Europe/Berlin",
            "base_currency": "EUR",
            "country": "DE",
            "fiscal_year_start": "4",
            "require_staff_mfa": "on",
            "support_email": "",
        },
    )
    assert response.status_code == 302
    acme.tenant.refresh_from_db()
    assert acme.tenant.require_staff_mfa and acme.tenant.timezone == "Europe/Berlin"
    assert acme.tenant.fiscal_year_start == 4
    globex.tenant.refresh_from_db()
    assert not globex.tenant.require_staff_mfa
    with acme.scope():
        assert AuditEntry.objects.filter(action="tenant.settings_changed").exists()


def test_audit_log_is_read_only(acme):
    with acme.scope():
        entry = AuditEntry.objects.first()
    client = acme.client(Role.OPS_ADMIN)
    url = f"/admin/tenancy/auditentry/{entry.pk}/change/"
    assert client.get(url).status_code == 200
    client.post(url, {"action": "tampered"})
    with acme.scope():
        assert AuditEntry.objects.get(pk=entry.pk).action == entry.action


def test_pages_carry_a_strict_content_security_policy(acme):
    for path in ("/", "/admin/"):
        response = acme.client(Role.OPS_ADMIN).get(path)
        policy = response["Content-Security-Policy"]
        script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
        assert script_src.strip() == "script-src 'self'"
        assert "frame-ancestors 'none'" in policy


def test_large_table_paginator_counts_exactly_then_estimates(acme, monkeypatch):
    from partners.models import Partner
    from prm.tenancy.admin_base import LargeTablePaginator

    with acme.scope():
        assert LargeTablePaginator(Partner.objects.all(), 1).count == 2
        monkeypatch.setattr(LargeTablePaginator, "EXACT_UP_TO", 1)
        # Past the bound the planner's estimate is used; never less than
        # what the bounded scan saw.
        estimated = LargeTablePaginator(Partner.objects.all(), 1).count
        assert estimated >= 2


def test_row_selection_box_is_djangos_markup(acme):
    """The changelist's selection box is written directly (not through the
    widget templates); it must stay exactly what Django renders, escaping
    included, and the bulk actions must still receive the selected ids."""
    from django.contrib import admin

    from partners.models import Partner
    from prm.tenancy.admin_base import tenant_admin_site

    model_admin = tenant_admin_site._registry[Partner]
    with acme.scope():
        partner = acme.partner
        partner.name = 'Acme <b>"One"</b> & Co'
        ours = model_admin.action_checkbox(partner)
        djangos = admin.ModelAdmin.action_checkbox(model_admin, partner)
    assert str(ours) == str(djangos)
    assert "&lt;b&gt;&quot;One&quot;&lt;/b&gt; &amp; Co" in ours
    body = acme.client(Role.OPS_ADMIN).get("/admin/partners/partner/").content.decode()
    assert f'name="_selected_action" value="{partner.pk}" class="action-select"' in body
