#!/usr/bin/env python3
"""Keep a partner program in step with your CRM: an example integration.

Standard library only (Python 3.10+): copy this file next to your CRM's
export and adapt ``FIELDS`` (your CRM's column names) to it.

Two commands:

``push`` sends the CRM's open opportunities to the program as *direct
opportunities* (the vendor's own pipeline, which partners' deal
registrations are checked against for channel conflict). Each is upserted by
its CRM id (``POST /api/v1/direct-opportunities/``, with an
``Idempotency-Key`` reused on retries, so a retried request never acts
twice); then the program's open ones are listed (``?open=true``, following
the cursor pagination's ``next`` links) and those the CRM no longer lists
are closed (``DELETE /api/v1/direct-opportunities/<crm id>/``). A 429 or 503
answer is retried after its ``Retry-After``; a connection error after a
back-off. ``--every 3600`` runs it hourly in the foreground; cron works as
well (see the README's "CRM sync")::

    export PRM_API_KEY=prm_...        # an ops key: direct_opportunities read and write
    python3 crm_sync.py push --api https://acme.prm.example --crm crm.json

``receive`` is a webhook receiver for the program's registration events. It
checks each request's ``PRM-Signature`` (HMAC-SHA256 with the endpoint's
secret, at most five minutes old), drops an event id it has handled before
(delivery is at least once), and on ``registration.approved`` adds the
partner's deal to the CRM file as an opportunity marked partner-sourced
(``push`` leaves those out: they are the partner's deal, not the vendor's
direct pipeline)::

    export PRM_WEBHOOK_SECRET=whsec_...   # shown once when the endpoint is added
    python3 crm_sync.py receive --crm crm.json --port 8085

The CRM file stands in for your CRM: a JSON list of records (or CSV with the
same columns) such as ``{"Id": "006Dn000004XyZ1", "AccountName": "Initech",
"Website": "initech.example", "BillingCountry": "US", "Products": "fw;sdwan",
"OwnerName": "Dana", "OwnerEmail": "dana@acme.example", "StageName":
"Negotiation", "Amount": "40000.00", "CurrencyIsoCode": "USD", "CloseDate":
"2027-01-31"}``.
"""

import argparse
import csv
import hashlib
import hmac
import json
import logging
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode, urljoin, urlsplit
from urllib.request import Request, urlopen

log = logging.getLogger("crm_sync")

DIRECT = "/api/v1/direct-opportunities/"
# The program's field <- your CRM's column.
FIELDS = {
    "crm_id": "Id",
    "customer_name": "AccountName",
    "customer_domain": "Website",
    "customer_country": "BillingCountry",
    "product_lines": "Products",  # codes or names, separated by ";"
    "owner_name": "OwnerName",
    "owner_email": "OwnerEmail",
    "stage": "StageName",
    "amount": "Amount",
    "currency": "CurrencyIsoCode",
    "close_date": "CloseDate",
}
# Records this script added for approved registrations (see ``receive``).
SOURCE, PARTNER_SOURCED = "Source", "partner"
RETRIED = {429, 503}


# --- The API -------------------------------------------------------------------------


class ApiError(Exception):
    """An answer that retrying will not change (a problem document)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status, self.problem = status, problem
        errors = "; ".join(f"{e['field']}: {e['message']}" for e in problem.get("errors", []))
        super().__init__(f"{status} {problem.get('detail', '')} {errors}".strip())


class Api:
    """The program's API at ``base`` (https://acme.prm.example) with a key.
    ``host`` sends another Host header than the URL's (a proxy, a test)."""

    def __init__(
        self,
        base: str,
        key: str,
        *,
        host: str | None = None,
        retries: int = 5,
        timeout: float = 30,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base.startswith(("https://", "http://")):
            raise ValueError(f"The API's address is a web address (https://...), not {base!r}.")
        self.base, self.key, self.host = base.rstrip("/"), key, host
        self.retries, self.timeout, self.sleep = retries, timeout, sleep

    def request(
        self, method: str, path: str, body: Any = None, *, idempotency_key: str | None = None
    ) -> tuple[int, Any]:
        """(status, JSON body) of a 2xx answer. Retries 429 and 503 after
        their Retry-After, and connection errors, with the same
        Idempotency-Key; raises ApiError for any other answer."""
        url = urljoin(self.base + "/", path.lstrip("/"))
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(self.retries + 1):
            request = Request(url, data=data, method=method)  # noqa: S310 (checked: http(s))
            request.add_header("Authorization", f"Bearer {self.key}")
            request.add_header("Accept", "application/json")
            if data is not None:
                request.add_header("Content-Type", "application/json")
            if idempotency_key:
                request.add_header("Idempotency-Key", idempotency_key)
            if self.host:
                request.add_header("Host", self.host)
            try:
                with urlopen(request, timeout=self.timeout) as answer:  # noqa: S310 (http(s))
                    raw = answer.read()
                    return answer.status, json.loads(raw) if raw else None
            except HTTPError as error:
                raw = error.read()
                if error.code in RETRIED and attempt < self.retries:
                    wait = _retry_after(error.headers.get("Retry-After"), attempt)
                    log.info("%s %s answered %s; again in %ss", method, url, error.code, wait)
                    self.sleep(wait)
                    continue
                raise ApiError(error.code, _json_or_text(raw)) from None
            except (URLError, TimeoutError, ConnectionError) as error:
                if attempt >= self.retries:
                    raise
                wait = min(2**attempt, 60)
                log.info("%s %s failed (%s); again in %ss", method, url, error, wait)
                self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def pages(self, path: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Every row of a list, page after page (cursor pagination: the
        ``next`` link's path and query, asked of ``base``)."""
        url: str | None = f"{path}?{urlencode(params)}"
        while url:
            _, page = self.request("GET", url)
            yield from page["results"]
            following = urlsplit(page["next"]) if page.get("next") else None
            url = f"{following.path}?{following.query}" if following else None


def _retry_after(value: str | None, attempt: int) -> float:
    try:
        return max(float(value or ""), 1.0)
    except ValueError:
        return float(min(2**attempt, 60))


def _json_or_text(raw: bytes) -> dict[str, Any]:
    try:
        found = json.loads(raw)
        return found if isinstance(found, dict) else {"detail": str(found)}
    except ValueError:
        return {"detail": raw.decode(errors="replace")[:500]}


# --- The CRM file ----------------------------------------------------------------------


def read_crm(path: Path) -> list[dict[str, Any]]:
    """The CRM's records: a JSON list (or {"opportunities": [...]}) or CSV."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(text.splitlines()))
    found = json.loads(text) if text.strip() else []
    return found["opportunities"] if isinstance(found, dict) else found


def write_crm(path: Path, records: list[dict[str, Any]]) -> None:
    """Replace the JSON file at once (a reader never sees half of it)."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(records, out, indent=2, ensure_ascii=False)
        out.write("\n")
    os.replace(temporary, path)


def direct_opportunity(record: dict[str, Any]) -> dict[str, Any]:
    """A CRM record as the program's direct opportunity (``FIELDS``)."""
    body = {field: record.get(column) for field, column in FIELDS.items()}
    body["crm_id"] = str(body["crm_id"] or "").strip()
    products = body.pop("product_lines") or ""
    body["product_lines"] = [p.strip() for p in str(products).split(";") if p.strip()]
    return {k: ("" if v is None else v) for k, v in body.items()}


# --- push ------------------------------------------------------------------------------


def push(
    api: Api, records: Iterable[dict[str, Any]], *, allow_empty: bool = False, page_size: int = 200
) -> dict[str, int]:
    """Upsert the CRM's opportunities, then close the program's open ones the
    CRM no longer lists. Returns what was done. Refuses an empty export
    (which would close everything) unless ``allow_empty``."""
    own = [r for r in records if r.get(SOURCE) != PARTNER_SOURCED]
    if not own and not allow_empty:
        raise SystemExit("The CRM export is empty: refusing to close every opportunity.")
    run = uuid.uuid4().hex[:12]
    # existing: updated, or unchanged (the API answers 200 for both).
    done = {"created": 0, "existing": 0, "closed": 0, "failed": 0}
    listed: set[str] = set()
    for record in own:
        body = direct_opportunity(record)
        listed.add(body["crm_id"])
        try:
            status, _ = api.request(
                "POST", DIRECT, body, idempotency_key=f"crm-sync-{run}-{body['crm_id']}"
            )
        except ApiError as error:
            log.warning("%s not sent: %s", body["crm_id"] or "(no id)", error)
            done["failed"] += 1
            continue
        done["created" if status == 201 else "existing"] += 1
    open_here = api.pages(DIRECT, {"open": "true", "limit": str(page_size)})
    here = {row["crm_id"] for row in open_here}
    for crm_id in sorted(here - listed):
        try:
            api.request("DELETE", f"{DIRECT}{quote(crm_id, safe='')}/")
        except ApiError as error:
            log.warning("%s not closed: %s", crm_id, error)
            done["failed"] += 1
            continue
        done["closed"] += 1
    log.info("push: %s", ", ".join(f"{n} {what}" for what, n in done.items()))
    return done


# --- receive ---------------------------------------------------------------------------

TOLERANCE = 300  # seconds


class InvalidSignature(Exception):
    pass


def verify(
    payload: bytes,
    header: str,
    secret: str,
    *,
    tolerance: int = TOLERANCE,
    now: float | None = None,
) -> dict[str, Any]:
    """The event in ``payload`` (the raw body) if ``header`` (PRM-Signature:
    ``t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``, one v1 per
    secret while a rolled secret overlaps) signs it and is at most
    ``tolerance`` seconds old; else InvalidSignature. The same function as
    the program's scripts/verify_webhook.py, copied so that this file stands
    alone."""
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidSignature("The signature header has no timestamp or no v1 signature.")
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise InvalidSignature("The timestamp is too old (or in the future): a replay?")
    signed = str(timestamp).encode() + b"." + payload
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise InvalidSignature("No signature matches the payload with this secret.")
    return json.loads(payload)


class Receiver:
    """What the webhook endpoint does with a request (``handle``); the ids
    of the events handled are kept in ``seen_path`` (the last 10,000)."""

    KEEP = 10_000

    def __init__(self, secret: str, crm_path: Path, seen_path: Path | None = None) -> None:
        self.secret, self.crm_path = secret, crm_path
        self.seen_path = seen_path or crm_path.with_name(crm_path.name + ".seen.json")
        self.lock = threading.Lock()
        self.seen: list[str] = (
            json.loads(self.seen_path.read_text()) if self.seen_path.exists() else []
        )

    def handle(self, body: bytes, signature: str) -> tuple[int, str]:
        """(HTTP status, message) for one request."""
        try:
            event = verify(body, signature, self.secret)
        except (InvalidSignature, ValueError) as error:
            return 400, f"Refused: {error}"
        with self.lock:
            if event["id"] in self.seen:
                return 200, "Already handled."
            if event["type"] == "registration.approved":
                try:
                    self.add_opportunity(event["data"]["object"])
                except (OSError, KeyError, ValueError) as error:
                    # Not marked handled: the program sends it again later.
                    log.error("Event %s not handled: %s", event["id"], error)
                    return 500, "Not handled; send it again."
            self.seen = [*self.seen, event["id"]][-self.KEEP :]
            self.seen_path.write_text(json.dumps(self.seen))
        return 200, "OK"

    def add_opportunity(self, registration: dict[str, Any]) -> None:
        """The approved registration as a partner-sourced CRM opportunity
        (once: its id is the registration's code)."""
        records = read_crm(self.crm_path)
        crm_id = f"PRM-{registration['code']}"
        if any(r.get(FIELDS["crm_id"]) == crm_id for r in records):
            return
        record = {
            FIELDS["crm_id"]: crm_id,
            FIELDS["customer_name"]: registration["customer_name"],
            FIELDS["customer_domain"]: registration["customer_domain"],
            FIELDS["customer_country"]: registration["customer_country"],
            FIELDS["product_lines"]: ";".join(p["code"] for p in registration["product_lines"]),
            FIELDS["stage"]: "Qualification",
            FIELDS["amount"]: registration["estimated_value"],
            FIELDS["currency"]: registration["currency"],
            FIELDS["close_date"]: registration["expected_close_date"],
            SOURCE: PARTNER_SOURCED,
            "Partner": registration["partner"]["name"],
            "RegistrationId": registration["id"],
            "ProtectedUntil": registration["protected_until"],
        }
        write_crm(self.crm_path, [*records, record])
        log.info("CRM opportunity %s added for %s", crm_id, registration["partner"]["name"])


def make_server(
    receiver: Receiver, bind: str = "127.0.0.1", port: int = 8085
) -> ThreadingHTTPServer:
    """An HTTP server that hands every POST to ``receiver`` (put it behind
    your HTTPS proxy: the program delivers to https URLs)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 1_000_000))
            status, message = receiver.handle(body, self.headers.get("PRM-Signature", ""))
            answer = message.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), format % args)

    return ThreadingHTTPServer((bind, port), Handler)


# --- Command line ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    push_cmd = commands.add_parser("push", help="send the CRM's opportunities")
    push_cmd.add_argument("--api", required=True, help="the portal: https://acme.prm.example")
    push_cmd.add_argument("--crm", required=True, type=Path, help="the CRM export (JSON or CSV)")
    push_cmd.add_argument("--host", help="a Host header other than the URL's")
    push_cmd.add_argument("--every", type=int, help="run again every N seconds (3600: hourly)")
    push_cmd.add_argument("--allow-empty", action="store_true", help="an empty export closes all")
    receive_cmd = commands.add_parser("receive", help="run the webhook receiver")
    receive_cmd.add_argument("--crm", required=True, type=Path, help="the CRM's JSON file")
    receive_cmd.add_argument("--bind", default="127.0.0.1")
    receive_cmd.add_argument("--port", type=int, default=8085)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    if args.command == "receive":
        secret = os.environ.get("PRM_WEBHOOK_SECRET", "")
        if not secret:
            parser.error("set PRM_WEBHOOK_SECRET to the endpoint's signing secret")
        server = make_server(Receiver(secret, args.crm), args.bind, args.port)
        log.info("Receiving on %s:%s", args.bind, args.port)
        server.serve_forever()
        return 0

    key = os.environ.get("PRM_API_KEY", "")
    if not key:
        parser.error("set PRM_API_KEY to an ops key with the direct_opportunities scopes")
    api = Api(args.api, key, host=args.host)
    while True:
        try:
            push(api, read_crm(args.crm), allow_empty=args.allow_empty)
        except (ApiError, URLError, OSError, ValueError) as error:
            log.error("push failed: %s", error)
            if not args.every:
                return 1
        if not args.every:
            return 0
        time.sleep(args.every)


if __name__ == "__main__":
    sys.exit(main())
