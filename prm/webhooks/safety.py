"""Where a webhook may go: https URLs of public addresses only.

A webhook URL is typed by a tenant's ops, and the request comes from inside
our network: without a check, ``https://169.254.169.254/...`` or a name
resolving to ``10.0.0.5`` would make the platform call its own cloud
metadata service or an internal host (server-side request forgery).

So a URL is checked when it is registered (the form's message says why it
is refused) and again before each delivery, and the request connects to the
very address that was checked (``Target.address``; the host name still
goes in the ``Host`` header and, for TLS, in SNI and the certificate check).
A name that resolved to a public address at the check cannot be re-pointed
at a private one before the connection (DNS rebinding): there is no second
lookup.

Every address the name resolves to must be public: a name with one public
and one private address is refused, whichever the connection would use.

``WEBHOOKS_ALLOW_PRIVATE_URLS`` (on in development) allows plain http and
any address, for a receiver on the developer's machine.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 prefixes that carry an IPv4 address, which is what gets reached.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT


class UnsafeURL(ValueError):
    """A URL webhooks may not be sent to; the message says why, to ops."""


@dataclass(frozen=True)
class Target:
    """Where a checked URL's request goes: ``address`` is the IP to connect
    to, ``host`` the name for the Host header and TLS."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def allow_private() -> bool:
    return bool(settings.WEBHOOKS_ALLOW_PRIVATE_URLS)


def why_not_public(ip: IPAddress) -> str | None:
    """What kind of non-public address ``ip`` is (None: a public one)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return why_not_public(embedded)
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("shared (carrier-grade NAT)", isinstance(ip, ipaddress.IPv4Address) and ip in SHARED),
        ("reserved", ip.is_reserved),
        ("non-public", not ip.is_global),
    )
    return next((kind for kind, matches in checks if matches), None)


def parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of ``url``, or ``UnsafeURL``
    for one webhooks may not use whatever it resolves to."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise UnsafeURL(f"This is not a valid URL ({error}).") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_private()):
        raise UnsafeURL("Use an https:// URL: webhooks are sent over TLS only.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL(
            "Leave the user name and password out of the URL: the signature "
            "tells the receiver the request comes from us."
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURL("The URL has no host name.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, host, port or (443 if scheme == "https" else 80), path


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal: itself)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise UnsafeURL(f"“{host}” could not be resolved ({error}).") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in found:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise UnsafeURL(f"“{host}” could not be resolved (no address).")
    return addresses


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check(url: str) -> Target:
    """Check ``url`` and pin the address to connect to, or ``UnsafeURL``."""
    scheme, host, port, path = parse(url)
    addresses = resolve(host, port)
    if not allow_private():
        for ip in addresses:
            kind = why_not_public(ip)
            if kind is not None:
                shown = host if _is_literal(host) else f"“{host}” resolves to {ip}, which"
                raise UnsafeURL(
                    f"{shown} is a {kind} address: webhooks are sent to public addresses only."
                )
    return Target(scheme=scheme, host=host, port=port, path=path, address=str(addresses[0]))
