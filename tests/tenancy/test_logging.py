"""One log line per request and per task, carrying tenant, user and a
request or task id; the lines logged meanwhile carry the same."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from prm import log
from prm.celery import TenantTask
from prm.celery import app as celery_app
from prm.tenancy.roles import Role

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def inner_log_middleware(get_response):
    """Logs a line from inside the request, where views and services log."""

    def middleware(request):
        logging.getLogger("tests.inner").warning("inside the request")
        return get_response(request)

    return middleware


@celery_app.task(base=TenantTask, name="tests.logging.probe")
def probe(*, tenant, fail=False):
    logging.getLogger("tests.inner").warning("inside the task")
    if fail:
        raise RuntimeError("probe failed\nsecond line")
    return tenant.slug


@pytest.fixture
def records(caplog):
    """Records as the console handler sees them: with the context filter."""
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(log.ContextFilter())

    def of(logger: str) -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == logger]

    return of


class TestRequestLine:
    def test_one_line_with_method_path_status_tenant_user_and_id(self, acme, records):
        member = acme[Role.PARTNER_USER]
        response = acme.client(Role.PARTNER_USER).get("/")
        assert response.status_code == 200

        [line] = records("prm.request")
        assert line.levelno == logging.INFO
        assert (line.method, line.path, line.status) == ("GET", "/", 200)
        assert isinstance(line.duration_ms, float) and line.duration_ms > 0
        assert line.tenant == "acme"
        assert line.tenant_id == str(acme.tenant.pk)
        assert line.user_id == str(member.user.pk)
        assert line.task_id is None
        assert len(line.request_id) == 32
        assert response["X-Request-ID"] == line.request_id
        assert line.getMessage().startswith("GET / 200 ")

    def test_anonymous_request_on_an_unknown_host(self, acme, records):
        response = Client(HTTP_HOST="nobody.localhost").get("/accounts/login/")
        assert response.status_code == 404
        [line] = records("prm.request")
        assert (line.status, line.tenant, line.user_id) == (404, None, None)
        assert response["X-Request-ID"] == line.request_id

    def test_a_sane_request_id_header_is_kept_and_echoed(self, acme, records):
        header = "edge-7f3a9c21.b4:2026"
        response = acme.client().get("/accounts/login/", HTTP_X_REQUEST_ID=header)
        assert response["X-Request-ID"] == header
        [line] = records("prm.request")
        assert line.request_id == header

    @pytest.mark.parametrize(
        "header",
        ["two words", 'quote"d', "line\nbreak", "x" * 129, "-leading-dash", "naïve"],
    )
    def test_a_bad_request_id_header_is_replaced(self, acme, records, header):
        response = acme.client().get("/accounts/login/", HTTP_X_REQUEST_ID=header)
        [line] = records("prm.request")
        assert line.request_id != header
        assert len(line.request_id) == 32
        assert response["X-Request-ID"] == line.request_id

    def test_lines_logged_during_the_request_carry_its_context(self, acme, records, settings):
        settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.inner_log_middleware"]
        member = acme[Role.OPS_ADMIN]
        acme.client(Role.OPS_ADMIN).get("/", HTTP_X_REQUEST_ID="req-1")
        [inner] = records("tests.inner")
        assert (inner.request_id, inner.tenant, inner.user_id) == (
            "req-1",
            "acme",
            str(member.user.pk),
        )
        # After the request nothing is left behind.
        logging.getLogger("tests.inner").warning("after the request")
        assert records("tests.inner")[-1].request_id is None

    def test_a_sign_in_names_the_user_who_signed_in(self, acme, records):
        member = acme[Role.PARTNER_USER]
        member.user.set_password("correct-horse-battery")
        member.user.save()
        response = acme.client().post(
            "/accounts/login/",
            {"login": member.user.email, "password": "correct-horse-battery"},
        )
        assert response.status_code == 302
        [line] = records("prm.request")
        assert (line.method, line.status, line.user_id) == ("POST", 302, str(member.user.pk))

    def test_secret_tokens_in_the_path_are_not_logged(self, acme, records):
        token = "s3cret-invitation-token_0123456789abcdef"
        acme.client().get(f"/invitations/{token}/")
        acme.client().get(f"/accounts/password/reset/key/4-{token}/")
        acme.client().get(f"/accounts/confirm-email/{token}/")
        paths = [line.path for line in records("prm.request")]
        assert paths == [
            "/invitations/[secret]/",
            "/accounts/password/reset/key/4-[secret]/",
            "/accounts/confirm-email/[secret]/",
        ]
        assert not [r for r in records("prm.request") if token in r.getMessage()]

    def test_health_checks_are_not_logged(self, records):
        response = Client(HTTP_HOST="whatever.invalid").get("/healthz")
        assert response.status_code == 200
        assert records("prm.request") == []


class TestTaskLine:
    def test_one_line_with_task_id_tenant_state_and_duration(self, acme, records):
        result = probe.delay(tenant_id=str(acme.tenant.pk))
        assert result.get() == "acme"

        [line] = records("prm.task")
        assert line.levelno == logging.INFO
        assert (line.task, line.state) == ("tests.logging.probe", "SUCCESS")
        assert line.task_id == result.id
        assert (line.tenant_id, line.tenant) == (str(acme.tenant.pk), "acme")
        assert line.duration_ms >= 0
        assert line.getMessage().startswith("tests.logging.probe SUCCESS ")
        [inner] = records("tests.inner")
        assert (inner.task_id, inner.tenant_id, inner.tenant) == (
            result.id,
            str(acme.tenant.pk),
            "acme",
        )

    def test_a_failed_task_is_one_warning_with_the_error(self, acme, records):
        # As in a worker: the failure is recorded, not raised to the caller.
        result = probe.apply(kwargs={"tenant_id": str(acme.tenant.pk), "fail": True}, throw=False)
        assert result.failed()
        [line] = records("prm.task")
        assert line.levelno == logging.WARNING
        assert (line.state, line.task_id) == ("FAILURE", result.id)
        assert line.error == "RuntimeError: probe failed"
        assert line.tenant_id == str(acme.tenant.pk)
        logging.getLogger("tests.inner").warning("after the task")
        assert records("tests.inner")[-1].task_id is None

    def test_an_eager_task_that_raises_is_one_failure_line(self, acme, records):
        with pytest.raises(RuntimeError):
            probe.delay(tenant_id=str(acme.tenant.pk), fail=True)
        [line] = records("prm.task")
        assert (line.state, line.error) == ("FAILURE", "RuntimeError: probe failed")

    def test_an_eager_task_inside_a_request_keeps_the_request_id(self, acme, records):
        # Eager (development, tests): the task runs inside the request.
        with log.request_context("req-2") as context:
            context.user_id = "7"
            result = probe.delay(tenant_id=str(acme.tenant.pk))
            assert log.current() is context
        [line] = records("prm.task")
        assert (line.request_id, line.task_id, line.user_id) == ("req-2", result.id, None)


class TestFormatters:
    def record(self, **extra) -> logging.LogRecord:
        record = logging.makeLogRecord(
            {"name": "prm.request", "levelno": logging.INFO, "levelname": "INFO"}
        )
        record.msg, record.args = "GET %s 200", ("/deals/",)
        record.__dict__.update(extra)
        with log.request_context("req-3"):
            log.current().tenant = "acme"
            log.ContextFilter().filter(record)
        return record

    def test_json_has_the_message_context_and_extra_fields(self):
        record = self.record(method="GET", path="/deals/", status=200, duration_ms=3.5)
        line = log.JsonFormatter().format(record)
        assert "\n" not in line
        data = json.loads(line)
        assert data["message"] == "GET /deals/ 200"
        assert (data["level"], data["logger"]) == ("INFO", "prm.request")
        assert data["time"].endswith("+00:00")
        assert (data["request_id"], data["tenant"]) == ("req-3", "acme")
        assert data["task_id"] is data["user_id"] is data["tenant_id"] is None
        assert (data["method"], data["path"], data["status"], data["duration_ms"]) == (
            "GET",
            "/deals/",
            200,
            3.5,
        )

    def test_json_carries_the_traceback(self):
        try:
            raise ValueError("bad\nthing")
        except ValueError:
            record = self.record(exc_info=sys.exc_info())
        data = json.loads(log.JsonFormatter().format(record))
        assert "ValueError: bad\nthing" in data["exception"]

    def test_text_is_one_readable_line(self):
        text = log.TextFormatter().format(self.record())
        assert text.endswith("INFO prm.request GET /deals/ 200 [request_id=req-3 tenant=acme]")


@pytest.mark.parametrize(
    ("prm_env", "json_lines"),
    [({"DEBUG": "0"}, True), ({"DEBUG": "1"}, False), ({"DEBUG": "1", "LOG_FORMAT": "json"}, True)],
)
def test_production_logs_json_and_development_text(prm_env, json_lines):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRM_")}
    env.update({f"PRM_{k}": v for k, v in prm_env.items()}, PRM_SECRET_KEY="x" * 60)
    env["DJANGO_SETTINGS_MODULE"] = "prm.settings"
    code = "import django, logging; django.setup(); logging.getLogger('prm.task').info('hello')"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    [line] = result.stderr.splitlines()
    if json_lines:
        assert json.loads(line)["message"] == "hello"
    else:
        assert line.endswith("INFO prm.task hello")
