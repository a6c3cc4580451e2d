"""The "My account" hub: its pages, the profile, the mail preferences (and
that the notification mails follow them) and signing out other sessions."""

import pytest
from allauth.usersessions.models import UserSession
from django.core import mail
from django.test import Client
from django.urls import reverse
from django_scopes import scope

from prm.tenancy import account, services, tasks
from prm.tenancy.models import AuditEntry, MailPreference, Membership, Notification, OutboxMessage
from prm.tenancy.roles import ALL_ROLES, Role
from tests import factories

pytestmark = pytest.mark.django_db

HUB_PAGES = ["account", "account_profile", "account_mails"]
ALLAUTH_ACCOUNT_PAGES = [
    "account_email",
    "account_change_password",
    "mfa_index",
    "usersessions_list",
]


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/accounts/login/")


class TestAccess:
    @pytest.mark.parametrize("name", HUB_PAGES + ALLAUTH_ACCOUNT_PAGES)
    def test_anonymous_is_sent_to_log_in(self, acme, name):
        assert is_login_redirect(acme.client().get(reverse(name)))

    @pytest.mark.parametrize("role", sorted(ALL_ROLES))
    def test_every_role_has_every_page_in_the_portal_layout(self, acme, role):
        client = acme.client(role)
        for name in HUB_PAGES + ALLAUTH_ACCOUNT_PAGES:
            response = client.get(reverse(name))
            assert response.status_code == 200, (name, role)
            page = response.content.decode()
            assert 'class="topbar"' in page, name
            assert 'aria-label="My account"' in page, name  # the hub's menu
            assert 'class="card account-section"' in page or name == "account", name
            assert page.count('class="card') >= 1, name

    def test_the_name_in_the_top_bar_opens_the_hub(self, acme):
        page = acme.client(Role.PARTNER_USER).get("/").content.decode()
        assert f'class="whoami-account" href="{reverse("account")}"' in page

    @pytest.mark.parametrize("name", HUB_PAGES + ALLAUTH_ACCOUNT_PAGES)
    def test_a_member_of_another_tenant_has_no_session_here(self, acme, globex, name):
        intruder = Client(HTTP_HOST=acme.host)
        intruder.force_login(
            globex[Role.OPS_ADMIN].user, backend="prm.tenancy.auth.TenantAuthenticationBackend"
        )
        assert is_login_redirect(intruder.get(reverse(name)))

    def test_the_hub_shows_this_tenants_membership_only(self, acme, globex):
        me = acme[Role.PARTNER_USER]
        with globex.scope():
            Membership.objects.create(
                tenant=globex.tenant,
                user=me.user,
                role=Role.PARTNER_ADMIN,
                partner=globex.partner,
                title="Globex title",
            )
        with acme.scope():
            Membership.objects.filter(pk=me.pk).update(title="Acme title")
        page = acme.client(Role.PARTNER_USER).get(reverse("account")).content.decode()
        assert "Acme title" in page and acme.partner.name in page
        assert "Globex title" not in page and globex.partner.name not in page


class TestOverview:
    def test_shows_two_factor_state_and_the_staff_policy(self, acme):
        acme.tenant.require_staff_mfa = True
        acme.tenant.save()
        page = acme.client(Role.PARTNER_USER).get(reverse("account")).content.decode()
        assert "Set up an authenticator app" in page
        assert "requires it for vendor staff" not in page  # partners are not bound by it

    def test_lists_the_email_addresses(self, acme):
        me = acme[Role.FINANCE].user
        page = acme.client(Role.FINANCE).get(reverse("account")).content.decode()
        assert me.email in page and "Primary" in page


class TestProfile:
    URL = "/account/profile/"

    def test_edit_saves_name_phone_and_title_with_an_audit_entry(self, acme):
        client = acme.client(Role.PARTNER_USER)
        response = client.post(
            self.URL,
            {"full_name": "  Ada   Lovelace ", "phone": "+44 20 7946 0958", "title": "CTO"},
        )
        assert response.status_code == 302 and response["Location"] == self.URL
        me = acme[Role.PARTNER_USER]
        me.user.refresh_from_db()
        with acme.scope():
            me.refresh_from_db()
            entry = AuditEntry.objects.get(action="account.profile_changed")
        assert (me.user.full_name, me.user.phone, me.title) == (
            "Ada Lovelace",
            "+44 20 7946 0958",
            "CTO",
        )
        assert entry.actor == me.user and entry.data["title"] == ["", "CTO"]
        page = client.get(reverse("account")).content.decode()
        assert "Ada Lovelace" in page and "CTO" in page

    @pytest.mark.parametrize(
        ("data", "field", "message"),
        [
            ({"full_name": "   ", "phone": "", "title": ""}, "full_name", "Enter your name"),
            ({"full_name": "Ada", "phone": "call me", "title": ""}, "phone", "phone number"),
            ({"full_name": "Ada", "phone": "12", "title": ""}, "phone", "phone number"),
            ({"full_name": "Ada", "phone": "", "title": "x" * 121}, "title", "at most 120"),
            ({"full_name": "A" * 201, "phone": "", "title": ""}, "full_name", "at most 200"),
            ({"full_name": "Ada\x01", "phone": "", "title": ""}, "full_name", "control"),
        ],
    )
    def test_bad_input_is_refused_with_a_message_and_changes_nothing(
        self, acme, data, field, message
    ):
        me = acme[Role.CHANNEL_MANAGER]
        before = (me.user.full_name, me.user.phone)
        response = acme.client(Role.CHANNEL_MANAGER).post(self.URL, data)
        assert response.status_code == 400
        assert message in " ".join(response.context["form"].errors[field])
        assert 'class="error"' in response.content.decode()
        me.user.refresh_from_db()
        assert (me.user.full_name, me.user.phone) == before
        with acme.scope():
            assert not AuditEntry.objects.filter(action="account.profile_changed").exists()

    def test_a_null_byte_is_refused(self, acme):
        response = acme.client(Role.PARTNER_USER).post(
            self.URL, {"full_name": "Ada\x00", "phone": "", "title": ""}
        )
        assert response.status_code == 400

    def test_the_title_is_this_programs_only(self, acme, globex):
        me = acme[Role.PARTNER_USER]
        with globex.scope():
            there = Membership.objects.create(
                tenant=globex.tenant,
                user=me.user,
                role=Role.PARTNER_USER,
                partner=globex.partner,
                title="Buyer",
            )
        acme.client(Role.PARTNER_USER).post(
            self.URL, {"full_name": "Ada", "phone": "", "title": "Seller"}
        )
        with globex.scope():
            there.refresh_from_db()
        assert there.title == "Buyer"


def switches(membership) -> dict[str, bool]:
    with scope(tenant=membership.tenant):
        return {s.key: s.email for s in account.mail_switches(membership)}


class TestMailPreferences:
    URL = "/account/mails/"

    def test_each_role_sees_the_kinds_it_receives(self, acme):
        partner = switches(acme[Role.PARTNER_USER])
        manager = switches(acme[Role.CHANNEL_MANAGER])
        finance = switches(acme[Role.FINANCE])
        assert "dealreg.approved" in partner and "dealreg.assigned" not in partner
        assert "dealreg.assigned" in manager and "dealreg.approved" not in manager
        assert "incentives.dispute_opened" in finance and "dealreg.assigned" not in finance
        assert all(partner.values())  # every mail is on until turned off
        page = acme.client(Role.PARTNER_USER).get(self.URL).content.decode()
        assert "A registration was approved" in page
        assert "A registration is assigned to me" not in page

    def test_turning_mails_off_and_on_again(self, acme):
        me = acme[Role.PARTNER_USER]
        client = acme.client(Role.PARTNER_USER)
        keep = [k for k in switches(me) if k != "dealreg.rejected"]
        response = client.post(self.URL, dict.fromkeys(keep, "on"))
        assert response.status_code == 302
        with acme.scope():
            assert switches(me)["dealreg.rejected"] is False
            assert sum(not on for on in switches(me).values()) == 1
            entry = AuditEntry.objects.get(action="account.mail_preferences_changed")
        assert entry.data == {"dealreg.rejected": False}
        page = client.get(self.URL).content.decode()
        assert 'name="dealreg.rejected"' in page
        client.post(self.URL, dict.fromkeys(switches(me), "on"))
        with acme.scope():
            assert all(switches(me).values())

    def test_a_kind_the_role_does_not_receive_cannot_be_set(self, acme):
        acme.client(Role.PARTNER_USER).post(self.URL, {"dealreg.assigned": ""})
        with acme.scope():
            assert not MailPreference.objects.filter(kind="dealreg.assigned").exists()

    def test_every_mailed_kind_in_the_code_is_declared(self):
        """A notification kind the apps send with a mail has a switch (or it
        could not be turned off): every ``kind="app.x"`` in the apps' sources."""
        import re
        from pathlib import Path

        from prm.tenancy import registry

        root = Path(__file__).resolve().parents[2]
        found = set()
        for app in ("dealreg", "incentives", "partners", "mdf", "onboarding", "reporting"):
            for path in (root / app).rglob("*.py"):
                found |= set(
                    re.findall(
                        r'kind="((?:dealreg|incentives|partners|mdf|onboarding|reporting)\.[a-z_]+)"',
                        path.read_text(),
                    )
                )
        assert found, "the search found no kinds at all"
        assert found <= set(registry.notification_kinds()), found - set(
            registry.notification_kinds()
        )


def notify(world, membership, kind, title):
    with world.scope():
        return services.notify(world.tenant, [membership.user], kind=kind, title=title)


def turn_off(world, membership, kind):
    with world.scope():
        wanted = [k for k in switches(membership) if k != kind]
        account.set_mail_preferences(membership, wanted=wanted)


class TestMailsFollowThePreferences:
    def test_a_kind_turned_off_is_not_mailed_but_still_notified(
        self, acme, django_capture_on_commit_callbacks
    ):
        me, colleague = acme[Role.PARTNER_USER], acme[Role.PARTNER_ADMIN]
        turn_off(acme, me, "dealreg.approved")
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True), acme.scope():
            services.notify(
                acme.tenant,
                [me.user, colleague.user],
                kind="dealreg.approved",
                title="DR-1 approved",
            )
        assert [m.to for m in mail.outbox] == [[colleague.user.email]]
        with acme.scope():
            assert Notification.objects.filter(user=me.user, title="DR-1 approved").exists()
            assert OutboxMessage.objects.filter(task=services.SEND_NOTIFICATION_EMAIL).count() == 1

    def test_other_kinds_are_still_mailed(self, acme, django_capture_on_commit_callbacks):
        me = acme[Role.PARTNER_USER]
        turn_off(acme, me, "dealreg.approved")
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            notify(acme, me, "dealreg.rejected", "DR-2 rejected")
        assert [m.to for m in mail.outbox] == [[me.user.email]]

    def test_turned_off_after_the_mail_was_queued_sends_nothing(self, acme):
        me = acme[Role.PARTNER_USER]
        [note] = notify(acme, me, "dealreg.expired", "DR-3 expired")
        turn_off(acme, me, "dealreg.expired")
        mail.outbox.clear()
        assert (
            tasks.send_notification_email(
                tenant_id=str(acme.tenant.pk), notification_id=str(note.pk)
            )
            is False
        )
        assert mail.outbox == []
        with acme.scope():
            assert Notification.objects.get(pk=note.pk).emailed_at is None

    def test_a_preference_in_another_program_does_not_count_here(
        self, acme, globex, django_capture_on_commit_callbacks
    ):
        me = acme[Role.PARTNER_USER]
        with globex.scope():
            there = Membership.objects.create(
                tenant=globex.tenant, user=me.user, role=Role.PARTNER_USER, partner=globex.partner
            )
        turn_off(globex, there, "dealreg.approved")
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            notify(acme, me, "dealreg.approved", "DR-4 approved")
        assert [m.to for m in mail.outbox] == [[me.user.email]]

    def test_a_kind_nobody_declared_is_mailed(self, acme, django_capture_on_commit_callbacks):
        me = acme[Role.FINANCE]
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            notify(acme, me, "test.undeclared", "Something")
        assert len(mail.outbox) == 1


def log_in(world, membership, agent: str) -> Client:
    client = Client(HTTP_HOST=world.host, HTTP_USER_AGENT=agent)
    response = client.post(
        "/accounts/login/", {"login": membership.user.email, "password": factories.PASSWORD}
    )
    assert response.status_code == 302, response.content
    return client


class TestSessions:
    URL = "/accounts/sessions/"

    def test_lists_the_sessions_and_marks_this_one(self, acme):
        me = acme[Role.PARTNER_ADMIN]
        log_in(acme, me, "Phone browser")
        laptop = log_in(acme, me, "Laptop browser")
        response = laptop.get(self.URL)
        page = response.content.decode()
        assert response.status_code == 200
        assert "Phone browser" in page and "Laptop browser" in page
        assert page.count("This browser</span>") == 1
        assert "Sign out the other 1 session" in page

    def test_signing_out_the_others_ends_them(self, acme):
        me = acme[Role.PARTNER_ADMIN]
        phone = log_in(acme, me, "Phone browser")
        laptop = log_in(acme, me, "Laptop browser")
        assert phone.get("/").status_code == 200
        response = laptop.post(self.URL)
        assert response.status_code == 302
        assert is_login_redirect(phone.get("/"))  # the other session is over
        assert laptop.get("/").status_code == 200  # this one goes on
        assert UserSession.objects.filter(user=me.user).count() == 1

    def test_someone_elses_sessions_are_neither_listed_nor_ended(self, acme):
        me, colleague = acme[Role.PARTNER_ADMIN], acme[Role.PARTNER_USER]
        theirs = log_in(acme, colleague, "Colleague browser")
        mine = log_in(acme, me, "My browser")
        assert "Colleague browser" not in mine.get(self.URL).content.decode()
        mine.post(self.URL)
        assert theirs.get("/").status_code == 200


@pytest.mark.parametrize(
    ("agent", "said"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0 Safari/537.36 Edg/126.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari on iPhone",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Firefox on Linux",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        ("curl/8.5", "Unknown browser"),
        ("", "Unknown browser"),
    ],
)
def test_sessions_name_the_browser_as_people_say_it(agent, said):
    from prm.tenancy.templatetags.account_tags import browser

    assert browser(agent) == said
