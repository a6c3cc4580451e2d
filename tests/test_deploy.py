"""Deployment: production settings pass ``check --deploy``, refuse to start
without a secret key, and the Dockerfile and docker-compose.yml agree with
the settings.

PyYAML is not a dependency, so docker-compose.yml is read by the small
reader below. It understands exactly the subset the file is written in
(block mappings and lists, quoted and plain scalars, JSON-style ``[...]``
lists, anchors, aliases and ``<<`` merge keys) and raises on anything else.
"""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_SOURCE = (ROOT / "prm" / "settings.py").read_text()
SECRET_KEY_ERROR = "PRM_SECRET_KEY must be set when PRM_DEBUG=0."
APP_SERVICES = ("migrate", "web", "worker", "beat")


def run_python(*args: str, **prm_env: str) -> subprocess.CompletedProcess:
    """Run the project's Python in the repository root with only the given
    ``PRM_*`` variables (those of the test run are dropped) and the
    production settings module."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PRM_") and key != "DJANGO_SETTINGS_MODULE"
    }
    env.update({f"PRM_{key}": value for key, value in prm_env.items()})
    env["DJANGO_SETTINGS_MODULE"] = "prm.settings"
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(**overrides: str) -> dict[str, str]:
    return {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(64), **overrides}


def settings_variables() -> set[str]:
    """Every ``PRM_*`` variable prm/settings.py reads."""
    names = re.findall(r'\benv(?:_bool|_list)?\(\s*"([A-Z0-9_]+)"', SETTINGS_SOURCE)
    return {f"PRM_{name}" for name in names}


# --- manage.py check --deploy ---------------------------------------------


def test_production_settings_pass_check_deploy_without_warnings():
    result = run_python(
        "manage.py", "check", "--deploy", "--fail-level", "WARNING", **production_env()
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in output
    assert "security." not in output


@pytest.mark.parametrize(
    ("overrides", "check_id"),
    [
        ({"SSL_REDIRECT": "0"}, "security.W008"),
        ({"HSTS_SECONDS": "0"}, "security.W004"),
        ({"SECRET_KEY": "too-short"}, "security.W009"),
    ],
)
def test_check_deploy_reports_a_weakened_production_setting(overrides, check_id):
    """The check above can fail: the same command, one setting weakened."""
    result = run_python(
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **production_env(**overrides),
    )
    assert result.returncode != 0
    assert check_id in result.stdout + result.stderr


# --- the secret key ---------------------------------------------------------


@pytest.mark.parametrize("secret_key", [None, ""], ids=["unset", "empty"])
def test_production_settings_refuse_to_load_without_a_secret_key(secret_key):
    env = {"DEBUG": "0"} if secret_key is None else {"DEBUG": "0", "SECRET_KEY": secret_key}
    result = run_python("-c", "import prm.settings", **env)
    assert result.returncode != 0
    assert SECRET_KEY_ERROR in result.stderr


def test_production_settings_load_with_a_secret_key():
    result = run_python(
        "-c",
        "from prm import settings; print(settings.DEBUG, settings.SESSION_COOKIE_SECURE)",
        **production_env(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


# --- docker-compose.yml -----------------------------------------------------


class YamlSubsetError(ValueError):
    pass


_KEY = re.compile(r"^(<<|[A-Za-z0-9_.-]+):(?:\s+(.*))?$")


def _scalar(text: str, anchors: dict):
    if text.startswith(("{", "|", ">", "!", "? ")):
        raise YamlSubsetError(f"unsupported YAML: {text!r}")
    if text.startswith("*"):
        if text[1:] not in anchors:
            raise YamlSubsetError(f"unknown alias {text!r}")
        return anchors[text[1:]]
    if text.startswith(('"', "[")):
        return json.loads(text)
    if text.startswith("'"):
        if len(text) < 2 or not text.endswith("'"):
            raise YamlSubsetError(f"unterminated string: {text!r}")
        return text[1:-1].replace("''", "'")
    text = text.split(" #", 1)[0].rstrip()
    if text in ("", "null", "~"):
        return None
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def _block(lines: list[tuple[int, str, int]], i: int, indent: int, anchors: dict):
    """Parse the block starting at ``lines[i]`` (indented ``indent``);
    return its value and the index of the first line after it."""
    if lines[i][1] == "-" or lines[i][1].startswith("- "):
        items = []
        while i < len(lines) and lines[i][0] == indent:
            _, text, number = lines[i]
            if not (text == "-" or text.startswith("- ")):
                raise YamlSubsetError(f"line {number}: expected a list item")
            item = text[1:].strip()
            if _KEY.match(item):
                raise YamlSubsetError(f"line {number}: mappings in lists are not supported")
            if item:
                items.append(_scalar(item, anchors))
                i += 1
            elif i + 1 < len(lines) and lines[i + 1][0] > indent:
                value, i = _block(lines, i + 1, lines[i + 1][0], anchors)
                items.append(value)
            else:
                items.append(None)
                i += 1
        return items, i

    mapping, merged = {}, {}
    while i < len(lines) and lines[i][0] == indent:
        _, text, number = lines[i]
        match = _KEY.match(text)
        if not match:
            raise YamlSubsetError(f"line {number}: expected 'key: value', got {text!r}")
        key, rest = match.group(1), (match.group(2) or "").strip()
        anchor = None
        if rest.startswith("&"):
            anchor, _, rest = rest[1:].partition(" ")
            rest = rest.strip()
        if rest and not rest.startswith("#"):
            value = _scalar(rest, anchors)
            i += 1
        elif i + 1 < len(lines) and lines[i + 1][0] > indent:
            value, i = _block(lines, i + 1, lines[i + 1][0], anchors)
        else:
            value = None
            i += 1
        if anchor:
            anchors[anchor] = value
        if key == "<<":
            if not isinstance(value, dict):
                raise YamlSubsetError(f"line {number}: '<<' needs a mapping")
            merged.update(value)
        elif key in mapping:
            raise YamlSubsetError(f"line {number}: duplicate key {key!r}")
        else:
            mapping[key] = value
    if i < len(lines) and lines[i][0] > indent:
        raise YamlSubsetError(f"line {lines[i][2]}: unexpected indentation")
    return {**merged, **mapping}, i


def read_yaml_subset(source: str):
    lines = []
    for number, raw in enumerate(source.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise YamlSubsetError(f"line {number}: tabs are not allowed")
        lines.append((len(raw) - len(raw.lstrip(" ")), stripped, number))
    if not lines or lines[0][0] != 0:
        raise YamlSubsetError("the document must start with an unindented key")
    value, i = _block(lines, 0, 0, {})
    if i != len(lines):
        raise YamlSubsetError(f"line {lines[i][2]}: unexpected content")
    return value


def test_yaml_subset_reader():
    document = read_yaml_subset(
        "x-base: &base\n"
        "  a: '1'\n"
        "  b: plain text # comment\n"
        "top:\n"
        "  <<: *base\n"
        "  b: override\n"
        '  list: ["x", "y"]\n'
        "  block:\n"
        "    - one\n"
        '    - "two: 2"\n'
        "  empty:\n"
        "  number: 3\n"
    )
    assert document["top"] == {
        "a": "1",
        "b": "override",
        "list": ["x", "y"],
        "block": ["one", "two: 2"],
        "empty": None,
        "number": 3,
    }
    for bad in ("a: 1\n  b: 2\n", "a: 1\na: 2\n", "a: |\n  text\n", "a:\n  - b: 1\n"):
        with pytest.raises(YamlSubsetError):
            read_yaml_subset(bad)


@pytest.fixture(scope="module")
def compose() -> dict:
    return read_yaml_subset((ROOT / "docker-compose.yml").read_text())


def test_compose_defines_the_services(compose):
    assert {"postgres", "redis", "migrate", "web", "worker", "beat"} <= set(compose["services"])
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["worker"]["command"][:4] == ["celery", "-A", "prm", "worker"]
    beat = services["beat"]["command"]
    assert beat[:4] == ["celery", "-A", "prm", "beat"]
    assert beat[beat.index("--schedule") + 1] == "/tmp/celerybeat-schedule"
    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"]
    # web runs the image's default command (gunicorn, see the Dockerfile test).
    assert "command" not in services["web"]


def test_compose_starts_services_in_order(compose):
    services = compose["services"]
    for name in ("postgres", "redis", "web"):
        assert services[name]["healthcheck"]["test"], name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully", name
        assert depends_on["redis"]["condition"] == "service_healthy", name
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    volume = services["postgres"]["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]


def test_compose_configures_the_app_for_production(compose):
    for name in APP_SERVICES:
        service = compose["services"][name]
        assert "env_file" not in service, name
        env = service["environment"]
        assert env["PRM_DEBUG"] == "0", name
        assert env["PRM_DB_HOST"] == "postgres", name
        assert env["PRM_REDIS_URL"].startswith("redis://redis:"), name
        assert env["PRM_CELERY_BROKER_URL"].startswith("redis://redis:"), name
        for secret in ("PRM_SECRET_KEY", "PRM_DB_PASSWORD"):
            assert re.fullmatch(rf"\$\{{{secret}:\?[^}}]+\}}", env[secret]), (name, secret)
    postgres_env = compose["services"]["postgres"]["environment"]
    assert postgres_env["POSTGRES_PASSWORD"].startswith("${PRM_DB_PASSWORD:?")


def test_compose_uses_only_variables_the_settings_read(compose):
    known = settings_variables()
    assert {"PRM_DEBUG", "PRM_SECRET_KEY", "PRM_DB_HOST", "PRM_REDIS_URL"} <= known
    passed = set()
    for service in compose["services"].values():
        passed |= {key for key in service.get("environment") or {} if key.startswith("PRM_")}
    assert passed, "no PRM_ variables passed to any service"
    assert passed <= known, f"not read by prm/settings.py: {sorted(passed - known)}"
    # Values interpolated from the operator's environment use the same names.
    interpolated = set(
        re.findall(r"\$\{(PRM_[A-Z0-9_]+)", (ROOT / "docker-compose.yml").read_text())
    )
    assert interpolated <= known, f"not read by prm/settings.py: {sorted(interpolated - known)}"


# --- Dockerfile -------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comment
    lines dropped, as Docker reads them."""
    instructions, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        keyword, _, arguments = (current + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        current = ""
    assert not current, "Dockerfile ends in a continuation line"
    return instructions


def dockerfile_cmd() -> list[str]:
    commands = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "CMD"]
    assert commands, "Dockerfile has no CMD"
    return json.loads(commands[-1])  # exec form: a JSON list


def test_dockerfile_builds_from_the_lock_file_and_runs_as_non_root():
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert (ROOT / "requirements.lock").is_file()
    copies = [arguments for keyword, arguments in instructions if keyword == "COPY"]
    runs = [arguments for keyword, arguments in instructions if keyword == "RUN"]
    assert any("requirements.lock" in arguments.split() for arguments in copies)
    assert any(re.search(r"pip install .*-r requirements\.lock", run) for run in runs)
    collectstatic = [run for run in runs if "collectstatic --noinput" in run]
    assert collectstatic
    assert "PRM_DEBUG=0" in collectstatic[0]
    assert "PRM_SECRET_KEY=" in collectstatic[0]
    # The build-time key is not baked into the image's environment.
    assert not any(k == "ENV" and "PRM_SECRET_KEY" in a for k, a in instructions)
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("EXPOSE", "8000") in instructions


def test_dockerfile_cmd_runs_gunicorn_on_the_wsgi_app():
    cmd = dockerfile_cmd()
    assert cmd[:2] == ["gunicorn", "prm.wsgi:application"]
    assert cmd[cmd.index("--bind") + 1] == "0.0.0.0:8000"
    assert cmd[cmd.index("--access-logfile") + 1] == "-"
    assert "--timeout" in cmd


def test_dockerfile_cmd_is_a_valid_gunicorn_configuration():
    """Every option exists in the locked gunicorn and the app loads in
    production mode."""
    result = run_python(
        "-m", "gunicorn", "--check-config", *dockerfile_cmd()[1:], **production_env()
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerignore_keeps_local_state_out_of_the_image():
    patterns = set((ROOT / ".dockerignore").read_text().split())
    expected = {".git", ".venv", ".env", "staticfiles", ".run", "test-artifacts", ".pytest_cache"}
    assert expected <= patterns
