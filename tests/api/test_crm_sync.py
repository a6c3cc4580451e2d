"""scripts/crm_sync.py against the real application: ``push`` through a live
server (upsert, change, push again without duplicates, a removed one closed,
cursor pages, 429 Retry-After, Idempotency-Key), and ``receive`` with a
real registration.approved event, signed as the program signs it."""

import hashlib
import hmac
import importlib.util
import json
import threading
import time
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from django.core.cache import cache

from dealreg.models import DirectOpportunity
from prm.api.models import IdempotentRequest
from prm.tenancy.roles import Role
from prm.webhooks.models import WebhookEvent
from tests.webhooks.conftest import make_endpoint

from .conftest import make_key
from .dealreg_support import make_lines, submitted, url

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "crm_sync.py"
SECRET = "whsec_crm_sync_test"


def load_script():
    spec = importlib.util.spec_from_file_location("crm_sync", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


crm_sync = load_script()


def record(crm_id: str, account: str, **fields) -> dict:
    return {
        "Id": crm_id,
        "AccountName": account,
        "Website": f"{account.lower().replace(' ', '')}.example",
        "BillingCountry": "US",
        "Products": "fw",
        "OwnerName": "Dana Direct",
        "OwnerEmail": "dana@acme.example",
        "StageName": "Negotiation",
        "Amount": "40000.00",
        "CurrencyIsoCode": "USD",
        "CloseDate": "2030-01-31",
        **fields,
    }


def pipeline(world) -> dict[str, DirectOpportunity]:
    with world.scope():
        return {o.external_id: o for o in DirectOpportunity.objects.all()}


@pytest.mark.django_db(transaction=True)
def test_push_keeps_the_pipeline_in_step_with_the_crm(acme, live_server, tmp_path, settings):
    make_lines(acme)
    # The key the README's recipe makes: this scope and nothing else.
    _, token = make_key(acme, Role.OPS_ADMIN, ["direct_opportunities:write"])
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        cache.clear()  # the rate limit's window has passed

    api = crm_sync.Api(live_server.url, token, host=acme.host, sleep=wait)
    crm = tmp_path / "crm.json"
    crm_sync.write_crm(
        crm,
        [
            record("006-A", "Initech"),
            record("006-B", "Hooli", StageName="Proposal"),
            record("006-C", "Globo Gym", Amount=12500),
            # Added by the receiver for an approved registration: not direct.
            {**record("PRM-DR-X", "Partner Deal"), "Source": "partner"},
        ],
    )
    first = crm_sync.push(api, crm_sync.read_crm(crm), page_size=1)
    assert first == {"created": 3, "existing": 0, "closed": 0, "failed": 0}
    found = pipeline(acme)
    assert sorted(found) == ["006-A", "006-B", "006-C"]
    assert found["006-C"].amount == 12500 and found["006-B"].stage == "proposal"
    with acme.scope():
        keys = set(IdempotentRequest.objects.values_list("key", flat=True))
    assert len(keys) == 3 and all(k.startswith("crm-sync-") for k in keys)

    # The CRM moves on: one changes, one is gone; the rate limit is met.
    settings.API_RATE_LIMIT = 2
    crm_sync.write_crm(
        crm,
        [
            record("006-A", "Initech", StageName="Closed Won", Amount="41000.00"),
            record("006-C", "Globo Gym", Amount=12500),
        ],
    )
    again = crm_sync.push(api, crm_sync.read_crm(crm), page_size=1)
    assert again == {"created": 0, "existing": 2, "closed": 1, "failed": 0}
    assert waits and all(w >= 1 for w in waits)
    found = pipeline(acme)
    assert len(found) == 3  # upserted, never duplicated
    assert found["006-A"].stage == "closed_won" and str(found["006-A"].amount) == "41000.00"
    assert found["006-B"].stage == "closed" and not found["006-B"].is_open
    assert found["006-C"].is_open

    # A row the program refuses is reported and left out; nothing else moves.
    settings.API_RATE_LIMIT = 600
    rows = [record("006-C", "Globo Gym", Amount=12500), record("006-D", "Bad", StageName="?")]
    assert crm_sync.push(api, rows)["failed"] == 1
    assert "006-D" not in pipeline(acme) and pipeline(acme)["006-C"].is_open
    with pytest.raises(SystemExit):
        crm_sync.push(api, [])  # an empty export would close everything
    assert pipeline(acme)["006-C"].is_open


def signed(body: bytes, secret: str = SECRET, at: float | None = None) -> str:
    timestamp = int(time.time() if at is None else at)
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def post(address, body: bytes, signature: str) -> tuple[int, str]:
    request = Request(address, data=body, method="POST", headers={"PRM-Signature": signature})
    try:
        with urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.django_db
def test_the_receiver_adds_an_approved_registration_to_the_crm_once(acme, api, tmp_path):
    lines = make_lines(acme)
    with acme.scope():
        make_endpoint(acme.tenant, events=("registration.approved",), secret=SECRET)
    registration = submitted(acme, lines)
    assert api(acme, Role.CHANNEL_MANAGER).post(url(registration, "approve")).status_code == 200
    with acme.scope():
        event = WebhookEvent.objects.get(type="registration.approved")
    body = event.body()

    crm = tmp_path / "crm.json"
    crm_sync.write_crm(crm, [record("006-A", "Initech")])
    server = crm_sync.make_server(crm_sync.Receiver(SECRET, crm), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        assert post(address, body, signed(body, "whsec_other"))[0] == 400
        assert post(address, body, signed(body, at=time.time() - 301))[0] == 400
        assert post(address, body + b" ", signed(body))[0] == 400
        assert post(address, body, "v1=deadbeef")[0] == 400
        assert len(crm_sync.read_crm(crm)) == 1
        assert post(address, body, signed(body)) == (200, "OK")
        assert post(address, body, signed(body)) == (200, "Already handled.")
    finally:
        server.shutdown()
        server.server_close()
    records = crm_sync.read_crm(crm)
    assert len(records) == 2
    added = records[1]
    assert added["Id"] == f"PRM-{registration.code}"
    assert added["Source"] == "partner"
    assert added["AccountName"] == "Initech Corporation"
    assert added["Amount"] == "25000.00" and added["CurrencyIsoCode"] == "USD"
    assert added["Partner"] == acme.partner.name
    assert added["ProtectedUntil"] == json.loads(body)["data"]["object"]["protected_until"]
    # A receiver started afresh still knows the event (the ids are kept).
    assert crm_sync.Receiver(SECRET, crm).handle(body, signed(body)) == (200, "Already handled.")
    # What push sends leaves the partner's deal out of the direct pipeline.
    assert [r["Id"] for r in records if r.get("Source") != "partner"] == ["006-A"]


def test_the_scripts_copy_of_verify_answers_as_the_programs_own():
    """crm_sync.py carries a copy of scripts/verify_webhook.py's verify (so
    that it stands alone): both accept and refuse the same requests."""
    spec = importlib.util.spec_from_file_location(
        "verify_webhook", SCRIPT.parent / "verify_webhook.py"
    )
    assert spec is not None and spec.loader is not None
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    body = b'{"id":"evt_1","type":"registration.approved","data":{"object":{}}}'
    now = time.time()
    headers = [
        signed(body),
        signed(body, "whsec_other"),
        signed(body, at=now - 301),
        signed(body, at=now + 301),
        f"{signed(body, 'whsec_old')},v1=" + signed(body).split("v1=")[1],
        "t=abc,v1=00",
        "",
    ]
    for header in headers:
        outcomes = []
        for verify, refused in (
            (crm_sync.verify, crm_sync.InvalidSignature),
            (reference.verify, reference.InvalidSignature),
        ):
            try:
                outcomes.append(verify(body, header, SECRET, now=now))
            except refused:
                outcomes.append("refused")
        assert outcomes[0] == outcomes[1], header
    assert crm_sync.verify(body, signed(body), SECRET)["id"] == "evt_1"
