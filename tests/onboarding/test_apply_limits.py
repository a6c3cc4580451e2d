"""Rate limits on applications, counted in Redis: per address per hour,
per email domain per day of the tenant's calendar, per tenant. A flood
creates exactly the limit."""

import datetime as dt

import pytest
from django.utils import timezone

from onboarding import applications
from onboarding.models import Application, OnboardingSettings
from prm.tenancy.models import OutboxMessage

from .builders_apply import applicant

FLOOD = 1000


def limits(world, **values):
    with world.scope():
        OnboardingSettings.objects.update_or_create(tenant=world.tenant, defaults=values)


def created(world) -> int:
    with world.scope():
        return Application.objects.count()


def send(world, *, ip="203.0.113.7", email="peter@initech.example", now=None):
    with world.scope():
        return applications.submit(
            world.tenant, applicant(contact_email=email), ip_address=ip, now=now
        )


@pytest.mark.django_db
def test_a_flood_from_one_address_creates_exactly_the_limit(acme):
    """1,000 applications from one address within the hour, each from a
    different company (so only the address limit applies)."""
    now = timezone.now().replace(minute=0, second=1)
    refused = 0
    for i in range(FLOOD):
        try:
            send(acme, email=f"bot{i}@company{i}.example", now=now + dt.timedelta(seconds=i))
        except applications.TooMany as exc:
            refused += 1
            assert "from your network this past hour" in str(exc)
            assert 0 < exc.retry_after <= 3600
    assert created(acme) == 5  # the default limit per address
    assert refused == FLOOD - 5
    with acme.scope():
        assert OutboxMessage.objects.count() == 5


@pytest.mark.django_db
def test_a_flood_through_the_page_creates_exactly_the_limit(acme):
    """The same flood through the public page: 429 pages once over."""
    limits(acme, limit_per_ip=3, limit_per_domain=1000)
    client = acme.client()
    statuses = []
    for i in range(12):
        response = client.post(
            "/apply/",
            {
                "company_name": f"Bot {i}",
                "country": "US",
                "partner_type": "reseller",
                "company_size": "1-9",
                "contact_name": "Bot",
                "contact_email": f"bot{i}@example.com",
            },
            REMOTE_ADDR="198.51.100.99",
        )
        statuses.append(response.status_code)
    assert statuses == [200] * 3 + [429] * 9
    assert created(acme) == 3
    assert "Too many applications" in response.content.decode()
    assert int(response["Retry-After"]) > 0
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_the_address_limit_is_per_hour(acme):
    limits(acme, limit_per_ip=2, limit_per_domain=1000)
    hour = timezone.now().replace(minute=10, second=0, microsecond=0)
    send(acme, email="a@one.example", now=hour)
    send(acme, email="b@two.example", now=hour + dt.timedelta(minutes=5))
    with pytest.raises(applications.TooMany) as refused:
        send(acme, email="c@three.example", now=hour + dt.timedelta(minutes=49))
    assert refused.value.retry_after == 60
    # Another address is not limited by this one.
    send(acme, ip="203.0.113.8", email="d@four.example", now=hour + dt.timedelta(minutes=49))
    # The next hour counts afresh.
    send(acme, email="e@five.example", now=hour + dt.timedelta(minutes=50))
    assert created(acme) == 4


@pytest.mark.django_db
def test_the_domain_limit_is_per_day_of_the_tenants_calendar(acme):
    limits(acme, limit_per_ip=1000, limit_per_domain=3)
    tz = acme.tenant.tzinfo
    evening = dt.datetime.combine(acme.tenant.local_today(), dt.time(22, 0), tzinfo=tz)
    for i in range(3):
        send(acme, ip=f"198.51.100.{i}", email=f"person{i}@initech.example", now=evening)
    with pytest.raises(applications.TooMany) as refused:
        send(acme, ip="198.51.100.50", email="boss@INITECH.example", now=evening)
    assert "from initech.example addresses today" in str(refused.value)
    assert refused.value.retry_after == 2 * 3600
    # Another domain is not limited by this one.
    send(acme, ip="198.51.100.51", email="x@hooli.example", now=evening)
    # After the tenant's midnight, a new day.
    send(
        acme, ip="198.51.100.52", email="boss@initech.example", now=evening + dt.timedelta(hours=2)
    )
    assert created(acme) == 5


@pytest.mark.django_db
def test_mailbox_providers_are_not_limited_as_one_company(acme):
    limits(acme, limit_per_ip=1000, limit_per_domain=2)
    for i in range(5):
        send(acme, ip=f"198.51.100.{i}", email=f"founder{i}@gmail.com")
    assert created(acme) == 5
    # The address limit still holds for them.
    limits(acme, limit_per_ip=1, limit_per_domain=2)
    with pytest.raises(applications.TooMany):
        send(acme, ip="198.51.100.1", email="founder9@gmail.com")


@pytest.mark.django_db
def test_limits_are_per_tenant(acme, globex):
    limits(acme, limit_per_ip=1)
    send(acme)
    with pytest.raises(applications.TooMany):
        send(acme, email="other@hooli.example")
    assert send(globex) is not None
    assert created(acme) == 1
    assert created(globex) == 1


@pytest.mark.django_db
def test_the_count_lives_in_redis(acme):
    """Another process (a second web worker) sees the same count."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    assert isinstance(caches["default"], RedisCache)
    limits(acme, limit_per_ip=1)
    now = timezone.now()
    send(acme, now=now)
    key = f"onboarding:apply:{acme.tenant.pk}:ip:203.0.113.7:{int(now.timestamp()) // 3600}"
    assert caches["default"].get(key) == 1


def test_concurrent_counts_lose_nothing():
    """Web workers counting at the same moment: each gets its own number
    (Redis INCR), so no two slip under the limit together."""
    from concurrent.futures import ThreadPoolExecutor

    key = "onboarding:apply:test:concurrent"
    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(lambda _: applications._count(key, 60), range(200)))
    assert sorted(counts) == list(range(1, 201))
