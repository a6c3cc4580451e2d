"""The people of ``make bench-load``, as a Locust file (run headless by
``manage.py bench_load``; not imported by Django).

Partner users browse their home page and their organisation's deal
registrations (list pages, filters, searches, details), register new deals
(the form, then its POST with the CSRF token and the form token, customer
names sometimes already registered, so conflict checks find some) and
report the outcome of approved ones. Channel managers work their queue in
the admin (registrations waiting for them), open registrations and approve
them, rejecting those the conflict rule refuses. Finance reads partners'
statements, the issued statements and the ledger.

Every user signs in as a person does: the login form, and for staff (who
must use an authenticator app here) the two-factor step with a code made
from the login's TOTP secret by allauth's own helpers. The server sees
each login come from its own loopback address (127.0.x.y), as people come
from their own addresses, so allauth's per-address limits apply as in
production. Sessions are kept in a file between the runs of one benchmark:
a session is a login that already happened.

Requests go to gunicorn's address with the tenant's Host header and
``X-Forwarded-Proto: https``, as a TLS-terminating proxy sends them; the
client keeps the ``Secure`` cookies it is given, as a browser talking to
that proxy would. Pages only (static files are cached by browsers).

What it measures is kept by ``bench.load_record.Recorder``.
"""

import itertools
import json
import os
import random
import re
import time
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Any, Self

import gevent
from gevent.lock import BoundedSemaphore
from locust import HttpUser, between, events, task
from locust.clients import LocustHttpAdapter
from locust.exception import StopUser
from requests.cookies import RequestsCookieJar
from urllib3.util.retry import Retry

from bench.load_record import Recorder

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings")
import django  # after Locust patched the standard library for gevent

django.setup()
from allauth.mfa import app_settings as mfa_settings  # noqa: E402
from allauth.mfa.totp.internal import auth as totp  # noqa: E402

with open(os.environ["BENCH_LOAD_CONFIG"]) as config_file:
    CONFIG: dict[str, Any] = json.load(config_file)
TENANTS: list[dict[str, Any]] = CONFIG["tenants"]
PASSWORD: str = CONFIG["password"]
SECRETS: dict[str, str] = CONFIG["secrets"]
TIMEOUT = 30
CODE_LINK = re.compile(r'href="/deals/(DR-[0-9A-Z]{8})/"')
# The registration form's answer when the partner already registered this
# customer: the warning, and what "Submit anyway" sends back.
DUPLICATE_ACK = re.compile(r'name="duplicate_ack" value="([^"]*)"')
ADMIN_LINK = re.compile(r'href="/admin/dealreg/dealregistration/([0-9a-f-]{36})/change/')
WORDS = ["kavenor", "tal", "zanu", "ri", "mor", "lum", "bex", "sol", "ora", "vex"]
SECTORS = ["Logistics", "Foods", "Health", "Systems", "Energy", "Retail", "Labs", "Capital"]


RECORDER = Recorder(CONFIG["started_file"], CONFIG["duration"])
SESSIONS: dict[str, list[dict[str, Any]]] = {}
LOCKS: dict[str, BoundedSemaphore] = {}
if os.path.exists(CONFIG["sessions_file"]):
    with open(CONFIG["sessions_file"]) as sessions_file:
        SESSIONS.update(json.load(sessions_file))


@events.request.add_listener
def _record(
    name: str, response_time: float, response: Any = None, exception: Any = None, **_kw: Any
) -> None:
    status = getattr(response, "status_code", 0) or 0
    RECORDER.add(name, response_time, status, None if exception is None else str(exception))


@events.test_stop.add_listener
def _write(environment: Any, **_kw: Any) -> None:
    with open(CONFIG["result_file"], "w") as out:
        json.dump(RECORDER.summary(), out)
    with open(CONFIG["sessions_file"], "w") as out:
        json.dump(SESSIONS, out)


# --- Pages and forms --------------------------------------------------------------------


class FormInputs(HTMLParser):
    """The named inputs of a page: name -> values (checkboxes and radio
    buttons: every value offered)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.fields: dict[str, list[str]] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("name"):
            self.fields.setdefault(str(found["name"]), []).append(found.get("value") or "")

    def first(self, name: str) -> str:
        values = self.fields.get(name) or [""]
        return values[0]


def answer(response: Any) -> str:
    """A failed request's answer: its status, or why there was none."""
    if response.status_code:
        return f"HTTP {response.status_code}"
    return f"no answer ({type(response.error).__name__})"


class ProxiedCookieJar(RequestsCookieJar):
    """Cookies as a browser keeps them behind the TLS-terminating proxy:
    ``Secure`` ones go back too (the browser's side of the proxy is https,
    this client's plain http to gunicorn)."""

    def set_cookie(self, cookie: Any, *args: Any, **kwargs: Any) -> None:
        cookie.secure = False
        super().set_cookie(cookie, *args, **kwargs)


class BrowserRetry(Retry):
    """What browsers do (RFC 9112, 9.3.1): a GET whose kept-alive connection
    the server closed before answering (gunicorn recycles a worker after
    ``--max-requests``) is sent again once on a new connection; a POST is
    not (only when it could not connect at all). Counted."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Self:
        again = super().increment(method, url, response, error, _pool, _stacktrace)
        RECORDER.retried += RECORDER.measuring()  # (not reached when it gives up)
        return again


class SourceAddressAdapter(LocustHttpAdapter):
    """Connections from one loopback address of the login's own."""

    def __init__(self, address: str) -> None:
        self.address = address
        retry = BrowserRetry(
            total=1,
            connect=1,
            read=1,
            redirect=0,
            status=0,
            other=0,
            allowed_methods=frozenset({"GET"}),
            raise_on_status=False,
        )
        super().__init__(pool_manager=None, max_retries=retry)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


LOGIN_INDEX = {
    email: i
    for i, email in enumerate(
        e for t in TENANTS for pool in ("partner", "cm", "finance") for e in t[f"{pool}_logins"]
    )
}
COUNTERS = {pool: itertools.count() for pool in ("partner", "cm", "finance")}


class Person(HttpUser):
    abstract = True
    pool = ""
    wait_time = between(CONFIG["think_min"], CONFIG["think_max"])

    def on_start(self) -> None:
        n = next(COUNTERS[self.pool])
        self.tenant = TENANTS[n % len(TENANTS)]
        logins = self.tenant[f"{self.pool}_logins"]
        self.email = logins[(n // len(TENANTS)) % len(logins)]
        i = LOGIN_INDEX[self.email]
        self.client.mount("http://", SourceAddressAdapter(f"127.0.{1 + i // 250}.{1 + i % 250}"))
        self.client.cookies = ProxiedCookieJar()
        origin = f"https://{self.tenant['host']}"
        self.client.headers.update(
            {"Host": self.tenant["host"], "X-Forwarded-Proto": "https", "Origin": origin}
        )
        try:
            with LOCKS.setdefault(self.email, BoundedSemaphore()):
                self.sign_in()
        except Exception as exc:
            RECORDER.failed_logins.append(f"{self.email}: {exc}")
            RECORDER.signed_in(self.environment)
            raise StopUser() from exc
        RECORDER.signed_in(self.environment)

    # Requests

    def get(self, path: str, name: str, expect: int = 200) -> str:
        with self.client.get(
            path,
            name=name,
            allow_redirects=False,
            timeout=TIMEOUT,
            headers={"Referer": f"https://{self.tenant['host']}/"},
            catch_response=True,
        ) as response:
            if response.status_code != expect:
                response.failure(answer(response))
                return ""
            return response.text

    def post(
        self,
        path: str,
        data: dict[str, Any],
        name: str,
        refusal: int | None = None,
        warned: dict[str, str] | None = None,
    ) -> str | None:
        """POST a form; the redirect's target, "" for a refusal, None on failure.
        With ``warned``, a duplicate-customer warning is an answer too: its
        acknowledgement goes into ``warned`` and "" is returned."""
        with self.client.post(
            path,
            data=data,
            name=name,
            allow_redirects=False,
            timeout=TIMEOUT,
            headers={"Referer": f"https://{self.tenant['host']}{path}"},
            catch_response=True,
        ) as response:
            if response.status_code == 302:
                return str(response.headers.get("Location", ""))
            ack = DUPLICATE_ACK.search(response.text) if warned is not None else None
            if response.status_code == 200 and ack and ack.group(1):
                response.success()
                warned["duplicate_ack"] = ack.group(1)
                return ""
            if response.status_code == refusal:
                response.failure(f"refused ({response.status_code})")
                return ""
            response.failure(answer(response))
            return None

    # Signing in

    def sign_in(self) -> None:
        saved = SESSIONS.get(self.email)
        if saved:
            for cookie in saved:
                self.client.cookies.set(**cookie)
            if self.client.get("/", name="login: resume", allow_redirects=False).status_code == 200:
                return
            self.client.cookies.clear()
        for attempt in range(4):
            if self.log_in():
                SESSIONS[self.email] = [
                    {
                        "name": c.name,
                        "value": c.value,
                        "domain": c.domain,
                        "path": c.path,
                    }
                    for c in self.client.cookies
                ]
                return
            gevent.sleep(5 + attempt * 10)  # a rate limit or a code used: the next period
        raise RuntimeError("could not sign in")

    def _post_login_step(self, path: str, page: Any, data: dict, name: str) -> Any:
        """Post one sign-in form (its CSRF token from ``page``), unredirected."""
        return self.client.post(
            path,
            data={
                "csrfmiddlewaretoken": FormInputs(page.text).first("csrfmiddlewaretoken"),
                **data,
            },
            headers={"Referer": f"https://{self.tenant['host']}{path}"},
            name=name,
            allow_redirects=False,
        )

    def log_in(self) -> bool:
        """The login form, then the two-factor step for staff: True when
        signed in. Each attempt starts afresh (no half-done login)."""
        self.client.cookies.clear()
        page = self.client.get("/accounts/login/", name="login: form", allow_redirects=False)
        response = self._post_login_step(
            "/accounts/login/",
            page,
            {"login": self.email, "password": PASSWORD},
            "login: password",
        )
        if response.status_code != 302:
            return False
        if "/accounts/2fa/authenticate/" in response.headers.get("Location", ""):
            page = self.client.get(
                "/accounts/2fa/authenticate/", name="login: 2fa form", allow_redirects=False
            )
            # A person whose app is about to show the next code waits for it.
            left = mfa_settings.TOTP_PERIOD - time.time() % mfa_settings.TOTP_PERIOD
            if left < 3:
                gevent.sleep(left + 0.5)
            counters = list(totp.yield_hotp_counters_from_time())
            code = totp.format_hotp_value(
                totp.hotp_value(SECRETS[self.email], counters[len(counters) // 2])
            )
            response = self._post_login_step(
                "/accounts/2fa/authenticate/", page, {"code": code}, "login: 2fa code"
            )
            if response.status_code != 302:
                return False
        return self.client.get("/", name="login: home", allow_redirects=False).status_code == 200


# --- Partners ---------------------------------------------------------------------------


class PartnerUser(Person):
    weight = CONFIG["weights"]["partner"]
    pool = "partner"

    def on_start(self) -> None:
        super().on_start()
        self.codes: list[str] = []

    def remember(self, page: str) -> None:
        found = CODE_LINK.findall(page)
        if found:
            self.codes = found[:25]

    @task(3)
    def home(self) -> None:
        self.get("/", "partner: home")

    @task(6)
    def deal_list(self) -> None:
        query = random.choice(
            ["", "?page=2", "?page=4", "?status=approved", "?status=won&page=2", "?status=lost"]
        )
        self.remember(self.get(f"/deals/{query}", "partner: deal list"))

    @task(1)
    def deal_search(self) -> None:
        self.remember(self.get(f"/deals/?q={random.choice(WORDS)}", "partner: deal search"))

    @task(5)
    def deal_detail(self) -> None:
        if not self.codes:
            self.deal_list()
            return
        self.get(f"/deals/{random.choice(self.codes)}/", "partner: deal detail")

    @task(2)
    def register(self) -> None:
        page = self.get("/deals/new/", "partner: new deal form")
        if not page:
            return
        form = FormInputs(page)
        if random.random() < 0.25 and self.tenant["customers"]:
            customer = random.choice(self.tenant["customers"])  # registered before
        else:
            word = "".join(random.choice(WORDS) for _ in range(3)).capitalize()
            customer = f"{word} {random.choice(SECTORS)} {random.randrange(10**6)}"
        products = form.fields.get("product_lines") or []
        data = {
            "csrfmiddlewaretoken": form.first("csrfmiddlewaretoken"),
            "client_token": form.first("client_token"),
            "customer_name": customer,
            "customer_domain": customer.split()[0].lower() + ".example",
            "customer_country": self.tenant["country"],
            "customer_contact_name": "Head of IT",
            "customer_contact_email": "it@customer.example",
            "product_lines": random.sample(products, min(len(products), random.randint(1, 2))),
            "estimated_value": str(random.randrange(5_000, 250_000)),
            "currency": form.first("currency") or self.tenant["currency"],
            "expected_close_date": (date.today() + timedelta(days=60)).isoformat(),
            "description": "Registered by the load benchmark.",
            "action": "submit",
        }
        warned: dict[str, str] = {}
        target = self.post("/deals/new/", data, "partner: submit deal", warned=warned)
        if warned:  # registered by this partner before: they submit anyway
            data = {**data, **warned}
            target = self.post("/deals/new/", data, "partner: submit deal anyway")
        if target:
            self.get(target, "partner: deal detail")

    @task(1)
    def report_outcome(self) -> None:
        approved = CODE_LINK.findall(self.get("/deals/?status=approved", "partner: deal list"))
        if not approved:
            return
        code = random.choice(approved)
        page = self.get(f"/deals/{code}/", "partner: deal detail")
        if not page:
            return
        won = random.random() < 0.7
        target = self.post(
            f"/deals/{code}/outcome/",
            {
                "csrfmiddlewaretoken": FormInputs(page).first("csrfmiddlewaretoken"),
                "outcome": "won" if won else "lost",
                "amount": str(random.randrange(5_000, 250_000)) if won else "",
                "close_date": (date.today() - timedelta(days=2)).isoformat() if won else "",
                "reason": "" if won else "Budget moved to next year.",
            },
            "partner: report outcome",
            refusal=400,  # recorded meanwhile by a colleague
        )
        if target:
            self.get(target, "partner: deal detail")


# --- Vendor staff -----------------------------------------------------------------------

REGISTRATIONS = "/admin/dealreg/dealregistration/"


class ChannelManager(Person):
    weight = CONFIG["weights"]["cm"]
    pool = "cm"

    def on_start(self) -> None:
        super().on_start()
        self.queue: list[str] = []

    @task(3)
    def my_queue(self) -> None:
        page = self.get(f"{REGISTRATIONS}?assigned=me&status=submitted", "cm: my queue")
        self.queue = ADMIN_LINK.findall(page)[:20]

    @task(1)
    def all_registrations(self) -> None:
        # The bare address is the manager's queue ("needs my decision"); all is a view.
        query = random.choice(
            ["", "?queue=all", "?status=approved", f"?q={random.choice(WORDS)}", "?queue=all&p=3"]
        )
        self.get(f"{REGISTRATIONS}{query}", "cm: registration list")

    @task(4)
    def decide(self) -> None:
        if not self.queue:
            self.my_queue()
            if not self.queue:
                return
        url = f"{REGISTRATIONS}{self.queue.pop(random.randrange(len(self.queue)))}/change/"
        page = self.get(url, "cm: registration")
        if not page:
            return
        token = FormInputs(page).first("csrfmiddlewaretoken")
        if random.random() < 0.85:
            target = self.post(
                url,
                {"csrfmiddlewaretoken": token, "_action": "approve", "approve-reason": "Clear."},
                "cm: approve",
                refusal=200,  # a conflict with an approved deal, or decided meanwhile
            )
            if target != "":
                return
        self.post(
            url,
            {
                "csrfmiddlewaretoken": token,
                "_action": "reject",
                "reject-reason": "Another partner holds this customer.",
                "confirm": "yes",  # a rejection is asked first; this is the confirmed post
            },
            "cm: reject",
            refusal=200,
        )


class Finance(Person):
    weight = CONFIG["weights"]["finance"]
    pool = "finance"

    @task(4)
    def partner_statement(self) -> None:
        partner = random.choice(self.tenant["statement_partners"])
        months_back = random.choice([0, 0, 0, 1, 2])
        period = ""
        if months_back:
            first = date.today().replace(day=1)
            for _ in range(months_back):
                first = (first - timedelta(days=1)).replace(day=1)
            period = f"&period={first:%Y-%m}"
        self.get(
            f"/admin/incentives/statement/partner/?partner={partner}{period}",
            "finance: partner statement",
        )

    @task(2)
    def statements(self) -> None:
        self.get(
            f"/admin/incentives/statement/{random.choice(['', '?p=2'])}", "finance: statements"
        )

    @task(1)
    def ledger(self) -> None:
        self.get("/admin/incentives/ledgerentry/", "finance: ledger")
