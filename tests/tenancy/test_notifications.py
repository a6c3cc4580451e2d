"""In-app notifications: the list, opening one, marking all read and the
unread count in the top navigation."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from prm.tenancy import views
from prm.tenancy.models import Membership, Notification
from prm.tenancy.roles import ALL_ROLES, Role

pytestmark = pytest.mark.django_db

LIST = "/notifications/"
OPEN = "/notifications/open/"
READ_ALL = "/notifications/read-all/"


def note(world, membership, title="Something happened", minutes_ago=0, **extra):
    with world.scope():
        return Notification.objects.create(
            tenant=world.tenant,
            user=membership.user,
            kind="test",
            title=title,
            created_at=timezone.now() - timedelta(minutes=minutes_ago),
            **extra,
        )


def is_read(world, notification) -> bool:
    with world.scope():
        return Notification.objects.get(pk=notification.pk).read_at is not None


class TestList:
    def test_own_notifications_newest_first_unread_highlighted(self, acme):
        me = acme[Role.PARTNER_USER]
        old = note(acme, me, "Older news", minutes_ago=60, read_at=timezone.now())
        new = note(acme, me, "Newest news", minutes_ago=1)
        note(acme, acme[Role.PARTNER_ADMIN], "A colleague's news")
        response = acme.client(Role.PARTNER_USER).get(LIST)
        assert response.status_code == 200
        assert list(response.context["notifications"]) == [new, old]
        page = response.content.decode()
        assert "A colleague&#x27;s news" not in page and "A colleague's news" not in page
        assert page.index("Newest news") < page.index("Older news")
        assert page.count('class="note unread"') == 1

    def test_another_tenants_notifications_of_the_same_person_stay_there(self, acme, globex):
        me = acme[Role.PARTNER_USER]
        with globex.scope():
            elsewhere = Membership.objects.create(
                tenant=globex.tenant, user=me.user, role=Role.PARTNER_USER, partner=globex.partner
            )
        note(globex, elsewhere, "Globex news")
        note(acme, me, "Acme news")
        page = acme.client(Role.PARTNER_USER).get(LIST).content.decode()
        assert "Acme news" in page and "Globex news" not in page

    def test_paginated(self, acme, monkeypatch):
        monkeypatch.setattr(views, "NOTIFICATIONS_PAGE_SIZE", 3)
        me = acme[Role.EXECUTIVE]
        for n in range(5):
            note(acme, me, f"Note {n}", minutes_ago=n)
        client = acme.client(Role.EXECUTIVE)
        first = [n.title for n in client.get(LIST).context["notifications"]]
        second = [n.title for n in client.get(LIST, {"page": 2}).context["notifications"]]
        assert first == ["Note 0", "Note 1", "Note 2"]
        assert second == ["Note 3", "Note 4"]

    @pytest.mark.parametrize("role", sorted(ALL_ROLES))
    def test_every_role_has_the_page(self, acme, role):
        assert acme.client(role).get(LIST).status_code == 200

    def test_anonymous_is_sent_to_log_in(self, acme):
        for method, path in (("get", LIST), ("post", OPEN), ("post", READ_ALL)):
            response = getattr(acme.client(), method)(path)
            assert response.status_code == 302
            assert response["Location"].startswith("/accounts/login/")


class TestUnreadBadge:
    def test_count_in_the_navigation(self, acme):
        me = acme[Role.CHANNEL_MANAGER]
        for n in range(3):
            note(acme, me, f"Unread {n}")
        note(acme, me, "Read", read_at=timezone.now())
        note(acme, acme[Role.OPS_ADMIN], "Someone else's")
        page = acme.client(Role.CHANNEL_MANAGER).get("/").content.decode()
        assert '<span class="nav-badge" data-testid="unread-count">3<' in page

    def test_no_badge_when_all_read(self, acme):
        note(acme, acme[Role.PARTNER_USER], read_at=timezone.now())
        page = acme.client(Role.PARTNER_USER).get("/").content.decode()
        assert 'href="/notifications/"' in page
        assert "nav-badge" not in page

    def test_one_query_per_page(self, acme):
        for n in range(4):
            note(acme, acme[Role.PARTNER_ADMIN], f"Unread {n}")
        client = acme.client(Role.PARTNER_ADMIN)
        client.get("/")
        with CaptureQueriesContext(connection) as queries:
            client.get("/")
        notification_queries = [q for q in queries if "tenancy_notification" in q["sql"]]
        assert len(notification_queries) == 1


class TestOpen:
    def test_marks_read_and_goes_where_it_points(self, acme):
        mine = note(acme, acme[Role.PARTNER_USER], url="/deals/DR-7KQ2M9XA/")
        response = acme.client(Role.PARTNER_USER).post(OPEN, {"notification": str(mine.pk)})
        assert response.status_code == 302
        assert response["Location"] == "/deals/DR-7KQ2M9XA/"
        assert is_read(acme, mine)

    def test_without_a_link_back_to_the_list(self, acme):
        mine = note(acme, acme[Role.OPS_ADMIN])
        response = acme.client(Role.OPS_ADMIN).post(OPEN, {"notification": str(mine.pk)})
        assert response["Location"] == LIST
        assert is_read(acme, mine)

    @pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x"])
    def test_never_redirects_off_site(self, acme, target):
        mine = note(acme, acme[Role.PARTNER_USER], url=target)
        response = acme.client(Role.PARTNER_USER).post(OPEN, {"notification": str(mine.pk)})
        assert response["Location"] == LIST

    def test_someone_elses_notification_is_404(self, acme):
        theirs = note(acme, acme[Role.PARTNER_ADMIN], url="/deals/")
        response = acme.client(Role.PARTNER_USER).post(OPEN, {"notification": str(theirs.pk)})
        assert response.status_code == 404
        assert not is_read(acme, theirs)

    def test_another_tenants_notification_is_404(self, acme, globex):
        theirs = note(acme, acme[Role.OPS_ADMIN])
        response = globex.client(Role.OPS_ADMIN).post(OPEN, {"notification": str(theirs.pk)})
        assert response.status_code == 404
        assert not is_read(acme, theirs)

    def test_same_person_in_another_tenant_is_404(self, acme, globex):
        """The notification's user signs in at globex: acme's row is not
        found through globex's host."""
        me = acme[Role.PARTNER_USER]
        with globex.scope():
            Membership.objects.create(
                tenant=globex.tenant, user=me.user, role=Role.PARTNER_USER, partner=globex.partner
            )
        mine_at_acme = note(acme, me)
        client = Client(HTTP_HOST=globex.host)
        client.force_login(me.user, backend="prm.tenancy.auth.TenantAuthenticationBackend")
        assert client.post(OPEN, {"notification": str(mine_at_acme.pk)}).status_code == 404
        assert not is_read(acme, mine_at_acme)

    @pytest.mark.parametrize("value", ["", "not-a-uuid"])
    def test_a_missing_or_malformed_id_is_400(self, acme, value):
        response = acme.client(Role.PARTNER_USER).post(OPEN, {"notification": value})
        assert response.status_code == 400

    def test_post_only_with_csrf(self, acme):
        mine = note(acme, acme[Role.PARTNER_USER])
        client = Client(HTTP_HOST=acme.host, enforce_csrf_checks=True)
        client.force_login(
            acme[Role.PARTNER_USER].user, backend="prm.tenancy.auth.TenantAuthenticationBackend"
        )
        assert client.get(OPEN, {"notification": str(mine.pk)}).status_code == 405
        assert client.post(OPEN, {"notification": str(mine.pk)}).status_code == 403
        assert client.post(READ_ALL).status_code == 403
        assert not is_read(acme, mine)


class TestReadAll:
    def test_marks_only_ones_own_unread(self, acme):
        me = acme[Role.FINANCE]
        earlier = timezone.now() - timedelta(days=2)
        already = note(acme, me, read_at=earlier)
        unread = [note(acme, me, f"Unread {n}") for n in range(3)]
        colleague = note(acme, acme[Role.EXECUTIVE])
        response = acme.client(Role.FINANCE).post(READ_ALL)
        assert response.status_code == 302 and response["Location"] == LIST
        assert all(is_read(acme, n) for n in unread)
        assert not is_read(acme, colleague)
        with acme.scope():
            assert Notification.objects.get(pk=already.pk).read_at == earlier
        page = acme.client(Role.FINANCE).get(LIST).content.decode()
        assert "nav-badge" not in page and "note unread" not in page

    def test_get_is_refused(self, acme):
        note(acme, acme[Role.FINANCE])
        assert acme.client(Role.FINANCE).get(READ_ALL).status_code == 405


READ = "/notifications/read/"


class TestViews:
    """The list's views: all, unread, needs action (a task not done yet)."""

    @pytest.fixture
    def mine(self, acme):
        me = acme[Role.CHANNEL_MANAGER]
        now = timezone.now()
        return {
            "news": note(acme, me, "Plain news", minutes_ago=4),
            "read": note(acme, me, "Read news", minutes_ago=3, read_at=now),
            "task": note(acme, me, "Decide DR-1", minutes_ago=2, subject="x:1", task="decide"),
            "done": note(
                acme, me, "Decide DR-2", 1, subject="x:2", task="decide", done_at=now, read_at=now
            ),
        }

    @pytest.mark.parametrize(
        "show, expected",
        [
            ("all", ["done", "task", "read", "news"]),
            ("unread", ["task", "news"]),
            ("action", ["task"]),
        ],
    )
    def test_each_view_lists_exactly_its_rows(self, acme, mine, show, expected):
        response = acme.client(Role.CHANNEL_MANAGER).get(LIST, {"show": show})
        assert response.status_code == 200
        assert list(response.context["notifications"]) == [mine[k] for k in expected]
        counts = {v["key"]: v["count"] for v in response.context["views"]}
        assert counts == {"all": 4, "unread": 2, "action": 1}
        page = response.content.decode()
        assert page.count("Needs action</span>") == (1 if "task" in expected else 0)

    def test_an_unknown_view_says_so_and_shows_all(self, acme, mine):
        response = acme.client(Role.CHANNEL_MANAGER).get(LIST, {"show": "garbage"})
        assert response.status_code == 400
        assert "There is no view" in response.content.decode()
        assert len(response.context["notifications"]) == 4

    def test_done_tasks_say_so(self, acme, mine):
        page = acme.client(Role.CHANNEL_MANAGER).get(LIST).content.decode()
        assert page.count('class="chip chip-ok"') == 1
        assert page.count('class="chip chip-warn"') == 1

    def test_the_view_keeps_its_pages(self, acme, monkeypatch):
        monkeypatch.setattr(views, "NOTIFICATIONS_PAGE_SIZE", 2)
        me = acme[Role.OPS_ADMIN]
        for n in range(3):
            note(acme, me, f"Task {n}", minutes_ago=n, subject=f"x:{n}", task="decide")
        note(acme, me, "News")
        page = acme.client(Role.OPS_ADMIN).get(LIST, {"show": "action"}).content.decode()
        assert 'href="?show=action&amp;page=2"' in page


class TestReadOne:
    def test_marks_one_read_and_stays_on_the_view(self, acme):
        me = acme[Role.PARTNER_USER]
        one, other = note(acme, me, "One"), note(acme, me, "Other")
        client = acme.client(Role.PARTNER_USER)
        response = client.post(READ, {"notification": str(one.pk), "show": "unread"})
        assert response.status_code == 302 and response["Location"] == f"{LIST}?show=unread"
        assert is_read(acme, one) and not is_read(acme, other)

    def test_someone_elses_or_another_tenants_is_404(self, acme, globex):
        theirs = note(acme, acme[Role.PARTNER_ADMIN])
        body = {"notification": str(theirs.pk)}
        assert acme.client(Role.PARTNER_USER).post(READ, body).status_code == 404
        assert globex.client(Role.PARTNER_ADMIN).post(READ, body).status_code == 404
        assert not is_read(acme, theirs)

    @pytest.mark.parametrize("value", ["", "not-a-uuid"])
    def test_a_missing_or_malformed_id_is_400(self, acme, value):
        assert acme.client(Role.FINANCE).post(READ, {"notification": value}).status_code == 400

    def test_post_only_with_csrf(self, acme):
        mine = note(acme, acme[Role.EXECUTIVE])
        client = Client(HTTP_HOST=acme.host, enforce_csrf_checks=True)
        client.force_login(
            acme[Role.EXECUTIVE].user, backend="prm.tenancy.auth.TenantAuthenticationBackend"
        )
        assert client.get(READ, {"notification": str(mine.pk)}).status_code == 405
        assert client.post(READ, {"notification": str(mine.pk)}).status_code == 403
        assert not is_read(acme, mine)

    def test_read_all_keeps_the_view(self, acme):
        note(acme, acme[Role.FINANCE])
        response = acme.client(Role.FINANCE).post(READ_ALL, {"show": "action"})
        assert response["Location"] == f"{LIST}?show=action"


class TestFinishTasks:
    def test_closes_the_open_tasks_about_an_object_for_everyone(self, acme):
        from prm.tenancy.services import finish_tasks

        subject = acme[Role.OPS_ADMIN]  # any model instance will do as a subject
        key = f"tenancy.membership:{subject.pk}"
        earlier = timezone.now() - timedelta(hours=1)
        ops = note(acme, acme[Role.OPS_ADMIN], subject=key, task="decide")
        cm = note(acme, acme[Role.CHANNEL_MANAGER], subject=key, task="decide", read_at=earlier)
        other_task = note(acme, acme[Role.OPS_ADMIN], subject=key, task="answer")
        other_subject = note(acme, acme[Role.OPS_ADMIN], subject="x:1", task="decide")
        with acme.scope():
            assert finish_tasks(subject, "decide", keep_for=[acme[Role.CHANNEL_MANAGER].user]) == 1
            assert finish_tasks(subject, "decide") == 1
            rows = {n.pk: n for n in Notification.objects.all()}
        assert rows[ops.pk].done_at is not None and rows[ops.pk].read_at is not None
        assert rows[cm.pk].done_at is not None and rows[cm.pk].read_at == earlier
        assert rows[other_task.pk].done_at is None and rows[other_task.pk].read_at is None
        assert rows[other_subject.pk].done_at is None
