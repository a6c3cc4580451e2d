"""Where webhooks may go (prm.webhooks.safety): https URLs whose every
address is public, checked at registration and again at each delivery,
and the request connects to the address checked (no second lookup for DNS
rebinding to change)."""

import ipaddress
import socket

import pytest
from django.db import transaction

from prm.tenancy.roles import Role
from prm.webhooks import events, safety, services
from prm.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

from .conftest import SAMPLE, make_endpoint

PUBLIC = "93.184.215.14"


@pytest.fixture
def dns(monkeypatch):
    """Names this test points where it likes; the lookups of each are counted."""
    table: dict[str, list[str]] = {}
    asked: list[str] = []
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host in table:
            asked.append(host)
            return [
                (
                    socket.AF_INET6 if ":" in ip else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (ip, port) if ":" not in ip else (ip, port, 0, 0),
                )
                for ip in table[host]
            ]
        if host.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    resolve.table = table  # type: ignore[attr-defined]
    resolve.asked = asked  # type: ignore[attr-defined]
    return resolve


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("224.0.0.1", "multicast"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("8.8.8.8", None),
        (PUBLIC, None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_what_is_not_public(address, kind):
    assert safety.why_not_public(ipaddress.ip_address(address)) == kind


def test_reserved_and_documentation_ranges_are_not_public():
    for address in ("240.0.0.1", "255.255.255.255", "192.0.2.1", "2001:db8::1"):
        assert safety.why_not_public(ipaddress.ip_address(address)) is not None, address


class TestCheck:
    def test_a_public_https_url_is_pinned_to_its_address(self, production_urls, dns):
        dns.table["hooks.example.com"] = [PUBLIC]
        target = safety.check("https://hooks.example.com:8443/in/prm?source=prm")
        assert target == safety.Target(
            scheme="https",
            host="hooks.example.com",
            port=8443,
            path="/in/prm?source=prm",
            address=PUBLIC,
        )

    def test_every_address_must_be_public(self, production_urls, dns):
        dns.table["hooks.example.com"] = [PUBLIC, "10.0.0.7"]
        with pytest.raises(safety.UnsafeURL, match=r"resolves to 10\.0\.0\.7, which is a private"):
            safety.check("https://hooks.example.com/")

    def test_a_name_that_does_not_resolve(self, production_urls, dns):
        with pytest.raises(safety.UnsafeURL, match=r"“nowhere\.invalid” could not be resolved"):
            safety.check("https://nowhere.invalid/")

    @pytest.mark.parametrize(
        ("url", "message"),
        [
            ("ftp://hooks.example.com/", "Use an https:// URL"),
            ("https:///path-only", "no host name"),
            ("https://hooks.example.com:99999/", "not a valid URL"),
        ],
    )
    def test_malformed_urls(self, production_urls, dns, url, message):
        with pytest.raises(safety.UnsafeURL, match=message):
            safety.check(url)

    def test_development_allows_http_and_this_machine(self, local_urls):
        target = safety.check("http://127.0.0.1:8001/hook")
        assert (target.scheme, target.address, target.port) == ("http", "127.0.0.1", 8001)


@pytest.mark.django_db
class TestAtDelivery:
    def test_a_name_re_pointed_at_loopback_after_registration_is_refused(
        self, acme, receiver, production_urls, dns, django_capture_on_commit_callbacks
    ):
        """DNS rebinding: public when registered, 127.0.0.1 when sent."""
        dns.table["hooks.example.com"] = [PUBLIC]
        with acme.scope():
            endpoint = WebhookEndpoint(
                tenant=acme.tenant, url="https://hooks.example.com/prm", events=[SAMPLE]
            )
            services.add_endpoint(endpoint, by=acme[Role.OPS_ADMIN].user)
        dns.table["hooks.example.com"] = ["127.0.0.1"]
        with acme.scope():
            with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
                events.emit(acme.tenant, SAMPLE, {"id": "s-1"})
            sent = WebhookDelivery.objects.get()
            attempt = WebhookAttempt.objects.get()
        assert receiver.received == []
        assert sent.state == WebhookDelivery.State.PENDING and sent.attempts == 1
        assert sent.error == (
            "Not sent: “hooks.example.com” resolves to 127.0.0.1, which is a loopback "
            "address: webhooks are sent to public addresses only."
        )
        assert attempt.address == "" and attempt.response_code is None

    @pytest.mark.parametrize(
        "url", ["https://127.0.0.1/hook", "https://169.254.169.254/latest", "https://[::1]/"]
    )
    def test_a_private_address_registered_in_development_is_refused_in_production(
        self, acme, production_urls, django_capture_on_commit_callbacks, url
    ):
        with acme.scope():
            make_endpoint(acme.tenant, url)
            with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
                events.emit(acme.tenant, SAMPLE, {"id": "s-1"})
            sent = WebhookDelivery.objects.get()
        assert sent.error.startswith("Not sent: ") and "public addresses only" in sent.error

    def test_the_request_goes_to_the_address_checked_with_the_name_as_host(
        self, acme, receiver, local_urls, dns, django_capture_on_commit_callbacks
    ):
        dns.table["hooks.test"] = ["127.0.0.1"]
        port = receiver.server.server_address[1]
        with acme.scope():
            make_endpoint(acme.tenant, f"http://hooks.test:{port}/hooks/prm")
            with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
                events.emit(acme.tenant, SAMPLE, {"id": "s-1"})
            attempt = WebhookAttempt.objects.get()
        [request] = receiver.received
        assert request.headers["Host"] == f"hooks.test:{port}"
        assert attempt.address == "127.0.0.1" and attempt.response_code == 200
        assert dns.asked == ["hooks.test"]  # looked up once, at the check
