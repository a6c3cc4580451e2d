"""The People page: who sees whom, revoking invitations, deactivating and
reactivating access; ownership (404) and role (403) checks."""

import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from prm.tenancy import services, views
from prm.tenancy.models import AuditEntry, Invitation, Membership
from prm.tenancy.roles import Role
from tests import factories

ALL_ROLES = [
    "ops_admin",
    "channel_manager",
    "finance",
    "executive",
    "partner_admin",
    "partner_user",
]
NO_PEOPLE_ROLES = ["channel_manager", "finance", "executive", "partner_user"]


def revoke_url(invitation) -> str:
    return reverse("invitation_revoke", args=[invitation.pk])


def active_url(membership) -> str:
    return reverse("membership_set_active", args=[membership.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def invitations(acme, globex):
    """Open invitations: acme staff, acme partner, acme other partner, globex."""
    with acme.scope():
        staff, _ = services.invite(
            tenant=acme.tenant, by=acme["ops_admin"], email="staff@example.test", role="finance"
        )
        ours, _ = services.invite(
            tenant=acme.tenant,
            by=acme["partner_admin"],
            email="ours@example.test",
            role="partner_user",
        )
        theirs, _ = services.invite(
            tenant=acme.tenant,
            by=acme["ops_admin"],
            email="theirs@example.test",
            role="partner_user",
            partner=acme.other_partner,
        )
    with globex.scope():
        foreign, _ = services.invite(
            tenant=globex.tenant,
            by=globex["ops_admin"],
            email="foreign@example.test",
            role="partner_user",
            partner=globex.partner,
        )
    return {"staff": staff, "ours": ours, "theirs": theirs, "foreign": foreign}


@pytest.fixture
def other_partner_member(acme):
    with acme.scope():
        return factories.make_member(
            acme.tenant, Role.PARTNER_USER, partner=acme.other_partner, email="other@acme.test"
        )


def invite_as_ops(world, email: str, role: str = "finance"):
    with world.scope():
        return services.invite(tenant=world.tenant, by=world["ops_admin"], email=email, role=role)


def is_active(world, membership) -> bool:
    with world.scope():
        return Membership.objects.get(pk=membership.pk).is_active


def status_of(world, invitation) -> str:
    with world.scope():
        return Invitation.objects.get(pk=invitation.pk).status()


@pytest.mark.django_db
class TestPeopleList:
    def test_ops_sees_every_member_of_the_tenant(self, acme, globex, other_partner_member):
        response = acme.client("ops_admin").get("/people/")
        assert response.status_code == 200
        emails = {m.user.email for m in response.context["memberships"]}
        assert emails == {m.user.email for m in acme.members.values()} | {"other@acme.test"}
        assert "@globex.test" not in response.content.decode()

    def test_ops_sees_every_open_invitation_of_the_tenant(self, acme, invitations):
        response = acme.client("ops_admin").get("/people/")
        assert {i.email for i in response.context["invitations"]} == {
            "staff@example.test",
            "ours@example.test",
            "theirs@example.test",
        }

    def test_partner_admin_sees_only_their_organisation(
        self, acme, invitations, other_partner_member
    ):
        response = acme.client("partner_admin").get("/people/")
        assert response.status_code == 200
        assert {m.user.email for m in response.context["memberships"]} == {
            "partner.admin@acme.test",
            "partner.user@acme.test",
        }
        assert [i.email for i in response.context["invitations"]] == ["ours@example.test"]
        page = response.content.decode()
        assert f"Colleagues at {acme.partner.name}" in page
        for hidden in ("other@acme.test", "ops.admin@acme.test", "staff@example.test"):
            assert hidden not in page
        assert "theirs@example.test" not in page

    def test_invitation_expiry_in_the_tenants_time_zone_and_expired_marked(self, acme):
        acme.tenant.timezone = "Asia/Tokyo"
        acme.tenant.save()
        with time_machine.travel(datetime(2026, 3, 1, 20, 0, tzinfo=UTC), tick=False):
            invite_as_ops(acme, "soon@example.test")  # expires 2026-03-15 20:00 UTC
        with time_machine.travel(datetime(2026, 3, 10, tzinfo=UTC), tick=False):
            invite_as_ops(acme, "later@example.test")  # expires 2026-03-24 00:00 UTC
        client = acme.client("ops_admin")
        with time_machine.travel(datetime(2026, 3, 15, 12, 0, tzinfo=UTC)):
            page = client.get("/people/").content.decode()
        assert "16 Mar 2026" in page  # 05:00 the next day in Tokyo
        assert "Expired" not in page
        with time_machine.travel(datetime(2026, 3, 20, tzinfo=UTC)):
            page = client.get("/people/").content.decode()
        assert "Expired" in page
        assert "24 Mar 2026" in page

    def test_own_row_has_no_deactivate_button(self, acme):
        response = acme.client("ops_admin").get("/people/")
        page = response.content.decode()
        assert active_url(acme["ops_admin"]) not in page
        assert active_url(acme["finance"]) in page

    def test_people_link_in_navigation_only_for_people_managers(self, acme):
        for role in ALL_ROLES:
            page = acme.client(role).get("/").content.decode()
            shown = 'href="/people/"' in page
            assert shown == (role in ("ops_admin", "partner_admin")), role

    def test_query_count_does_not_grow_with_members(
        self, acme, invitations, django_assert_max_num_queries
    ):
        client = acme.client("ops_admin")
        client.get("/people/")  # warm up (session, content types)
        with django_assert_max_num_queries(12) as few:
            client.get("/people/")
        with acme.scope():
            for n in range(15):
                partner = acme.partner if n % 2 else acme.other_partner
                factories.make_member(acme.tenant, Role.PARTNER_USER, partner=partner)
                services.invite(
                    tenant=acme.tenant,
                    by=acme["ops_admin"],
                    email=f"more{n}@example.test",
                    role="partner_user",
                    partner=partner,
                )
        with django_assert_max_num_queries(len(few.captured_queries)):
            response = client.get("/people/")
        assert len(response.context["memberships"]) == 6 + 15

    def test_members_are_paginated(self, acme, monkeypatch):
        monkeypatch.setattr(views, "PEOPLE_PAGE_SIZE", 4)
        client = acme.client("ops_admin")
        first = client.get("/people/")
        second = client.get("/people/?page=2")
        assert len(first.context["memberships"]) == 4
        assert len(second.context["memberships"]) == 2
        emails = [
            m.user.email for m in [*first.context["memberships"], *second.context["memberships"]]
        ]
        assert sorted(emails) == sorted(m.user.email for m in acme.members.values())
        assert 'href="?page=2"' in first.content.decode()
        # A page number out of range shows the last page, not an error.
        assert client.get("/people/?page=99").context["page_obj"].number == 2


@pytest.mark.django_db
class TestRevokeInvitation:
    def test_ops_revokes(self, acme, invitations):
        client = acme.client("ops_admin")
        response = client.post(revoke_url(invitations["staff"]), {"confirm": "yes"}, follow=True)
        assert response.redirect_chain == [("/people/", 302)]
        assert "Invitation for staff@example.test revoked." in messages_of(response)
        assert status_of(acme, invitations["staff"]) == "revoked"
        with acme.scope():
            assert AuditEntry.objects.filter(
                action="invitation.revoked", object_id=str(invitations["staff"].pk)
            ).exists()

    def test_partner_admin_revokes_their_organisations_invitation(self, acme, invitations):
        response = acme.client("partner_admin").post(
            revoke_url(invitations["ours"]), {"confirm": "yes"}
        )
        assert response.status_code == 302
        assert status_of(acme, invitations["ours"]) == "revoked"

    @pytest.mark.parametrize("which", ["staff", "theirs", "foreign"])
    def test_partner_admin_cannot_revoke_what_they_do_not_see(
        self, acme, globex, invitations, which
    ):
        response = acme.client("partner_admin").post(
            revoke_url(invitations[which]), {"confirm": "yes"}
        )
        assert response.status_code == 404
        world = globex if which == "foreign" else acme
        assert status_of(world, invitations[which]) == "open"

    def test_ops_cannot_revoke_another_tenants_invitation(self, acme, globex, invitations):
        response = acme.client("ops_admin").post(
            revoke_url(invitations["foreign"]), {"confirm": "yes"}
        )
        assert response.status_code == 404
        assert status_of(globex, invitations["foreign"]) == "open"

    def test_unknown_id_and_revoked_invitation_are_404(self, acme, invitations):
        client = acme.client("ops_admin")
        assert client.post(f"/people/invitations/{uuid.uuid4()}/revoke/").status_code == 404
        assert client.post(revoke_url(invitations["staff"]), {"confirm": "yes"}).status_code == 302
        assert client.post(revoke_url(invitations["staff"]), {"confirm": "yes"}).status_code == 404


@pytest.mark.django_db
class TestSetMembershipActive:
    def test_ops_deactivates_and_reactivates(self, acme):
        client = acme.client("ops_admin")
        target = acme["partner_user"]
        response = client.post(active_url(target), {"active": "0", "confirm": "yes"}, follow=True)
        assert response.redirect_chain == [("/people/", 302)]
        assert f"{target.user} deactivated." in messages_of(response)
        assert not is_active(acme, target)
        response = client.post(active_url(target), {"active": "1"}, follow=True)
        assert f"{target.user} reactivated." in messages_of(response)
        assert is_active(acme, target)
        with acme.scope():
            actions = list(
                AuditEntry.objects.filter(object_id=str(target.pk))
                .order_by("created_at")
                .values_list("action", flat=True)
            )
        assert actions == ["membership.deactivated", "membership.reactivated"]

    def test_deactivated_persons_session_ends(self, acme):
        victim = acme.client("partner_user")
        assert victim.get("/").status_code == 200
        acme.client("ops_admin").post(
            active_url(acme["partner_user"]), {"active": "0", "confirm": "yes"}
        )
        response = victim.get("/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")

    def test_deactivating_an_inactive_member_says_so(self, acme):
        client = acme.client("ops_admin")
        client.post(active_url(acme["finance"]), {"active": "0", "confirm": "yes"})
        response = client.post(
            active_url(acme["finance"]), {"active": "0", "confirm": "yes"}, follow=True
        )
        assert f"{acme['finance'].user} is already deactivated." in messages_of(response)

    def test_partner_admin_deactivates_a_colleague(self, acme):
        response = acme.client("partner_admin").post(
            active_url(acme["partner_user"]), {"active": "0", "confirm": "yes"}
        )
        assert response.status_code == 302
        assert not is_active(acme, acme["partner_user"])

    @pytest.mark.parametrize("target", ["finance", "ops_admin", "other_partner", "globex"])
    def test_partner_admin_cannot_touch_people_they_do_not_see(
        self, acme, globex, other_partner_member, target
    ):
        membership = {
            "finance": acme["finance"],
            "ops_admin": acme["ops_admin"],
            "other_partner": other_partner_member,
            "globex": globex["partner_user"],
        }[target]
        response = acme.client("partner_admin").post(
            active_url(membership), {"active": "0", "confirm": "yes"}
        )
        assert response.status_code == 404
        assert is_active(globex if target == "globex" else acme, membership)

    def test_ops_cannot_touch_another_tenants_member(self, acme, globex):
        response = acme.client("ops_admin").post(
            active_url(globex["ops_admin"]), {"active": "0", "confirm": "yes"}
        )
        assert response.status_code == 404
        assert is_active(globex, globex["ops_admin"])

    @pytest.mark.parametrize("role", ["ops_admin", "partner_admin"])
    def test_deactivating_yourself_is_refused(self, acme, role):
        client = acme.client(role)
        response = client.post(
            active_url(acme[role]), {"active": "0", "confirm": "yes"}, follow=True
        )
        assert response.redirect_chain == [("/people/", 302)]
        assert "You cannot deactivate your own access." in messages_of(response)
        assert is_active(acme, acme[role])
        assert client.get("/people/").status_code == 200

    def test_unknown_id_is_404(self, acme):
        response = acme.client("ops_admin").post(
            f"/people/members/{uuid.uuid4()}/active/", {"active": "0", "confirm": "yes"}
        )
        assert response.status_code == 404


@pytest.mark.django_db
class TestAccess:
    @pytest.fixture
    def post_urls(self, acme, invitations):
        return [
            ("/people/invite/", {"email": "x@example.test", "role": "partner_user"}),
            (revoke_url(invitations["ours"]), {"confirm": "yes"}),
            (active_url(acme["partner_admin"]), {"active": "0", "confirm": "yes"}),
        ]

    @pytest.mark.parametrize("role", NO_PEOPLE_ROLES)
    def test_other_roles_get_403(self, acme, role, post_urls, invitations):
        client = acme.client(role)
        assert client.get("/people/").status_code == 403
        for url, data in post_urls:
            assert client.post(url, data).status_code == 403, url
        assert status_of(acme, invitations["ours"]) == "open"
        assert is_active(acme, acme["partner_admin"])
        with acme.scope():
            assert not Invitation.objects.filter(email="x@example.test").exists()

    def test_anonymous_is_sent_to_log_in(self, acme, post_urls):
        client = Client(HTTP_HOST=acme.host)
        for url, data in [("/people/", {}), *post_urls]:
            for response in (client.get(url), client.post(url, data)):
                assert response.status_code == 302, url
                assert response["Location"] == f"/accounts/login/?next={url}"

    @pytest.mark.parametrize("role", ["ops_admin", "partner_admin"])
    def test_get_on_post_only_urls_is_405(self, acme, role, post_urls):
        client = acme.client(role)
        for url, _data in post_urls:
            if url == active_url(acme["partner_admin"]):
                continue  # GET asks to confirm a deactivation (TestDeactivationConfirmation)
            assert client.get(url).status_code == 405, url


@pytest.mark.django_db
class TestDeactivationConfirmation:
    def test_get_states_what_they_lose(self, acme):
        with acme.scope():
            services.invite(
                tenant=acme.tenant,
                by=acme["partner_admin"],
                email="new.colleague@example.test",
                role="partner_user",
                partner=acme.partner,
            )
        target = acme["partner_admin"]
        response = acme.client("ops_admin").get(active_url(target))
        assert response.status_code == 200
        page = response.content.decode()
        assert "can no longer sign in to Acme Corp" in page
        assert f"as partner admin at {acme.partner.name}" in page
        assert "The open invitation they sent (new.colleague@example.test) is revoked." in page
        assert is_active(acme, target)

    def test_post_without_confirm_does_nothing(self, acme):
        target = acme["partner_user"]
        response = acme.client("partner_admin").post(active_url(target), {"active": "0"})
        assert response.status_code == 200
        assert response.context["hidden"] == [("active", "0")]
        assert is_active(acme, target)

    def test_confirmed_deactivation_revokes_their_open_invitations(self, acme):
        with acme.scope():
            invitation, _token = services.invite(
                tenant=acme.tenant,
                by=acme["partner_admin"],
                email="new.colleague@example.test",
                role="partner_user",
                partner=acme.partner,
            )
        response = acme.client("ops_admin").post(
            active_url(acme["partner_admin"]), {"active": "0", "confirm": "yes"}
        )
        assert response.status_code == 302
        assert not is_active(acme, acme["partner_admin"])
        assert status_of(acme, invitation) == "revoked"
        with acme.scope():
            entry = AuditEntry.objects.get(action="membership.deactivated")
        assert entry.data == {"invitations_revoked": ["new.colleague@example.test"]}

    def test_reactivating_needs_no_confirmation(self, acme):
        client = acme.client("ops_admin")
        client.post(active_url(acme["finance"]), {"active": "0", "confirm": "yes"})
        response = client.post(active_url(acme["finance"]), {"active": "1"})
        assert response.status_code == 302
        assert is_active(acme, acme["finance"])

    def test_other_tenant_404_and_wrong_role_403(self, acme, globex):
        assert acme.client("ops_admin").get(active_url(globex["partner_user"])).status_code == 404
        for role in ("partner_user", "channel_manager", "finance", "executive"):
            assert acme.client(role).get(active_url(acme["partner_user"])).status_code == 403
        assert is_active(acme, acme["partner_user"])


@pytest.mark.django_db
class TestRevokeConfirmation:
    def test_an_unconfirmed_revoke_asks_and_keeps_the_invitation(self, acme, invitations):
        response = acme.client("ops_admin").post(revoke_url(invitations["ours"]))
        assert response.status_code == 200
        page = response.content.decode()
        assert f"The link sent to {invitations['ours'].email} stops working at once." in page
        assert status_of(acme, invitations["ours"]) == "open"
