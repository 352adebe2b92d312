"""docker-compose.prod.yaml, validated offline: `docker-compose ... config` interpolates and
checks the file without a Docker engine, and the assertions read what it prints.

docker-compose (Debian's 1.29 package) is installed by scripts/test.sh; without it these tests
fail rather than skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.prod.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
COMPOSE_SCRIPT = ROOT / "scripts/compose.sh"
SAMPLE_ENV = Path(__file__).with_name("sample.env")

SECRETS = ("ADMIN_TOKEN", "SERVICE_TOKEN")
APP_SERVICES = ("master-data", "cart")
ALL_SERVICES = ("mongo", *APP_SERVICES)
GRPC_PORT = 50051
MONGODB_URI = "mongodb://mongo:27017/?replicaSet=rs0"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (what containers must listen on)
# Variables compose itself reads (from .env or the environment), not the file.
COMPOSE_OWN_VARIABLES = {"COMPOSE_PROJECT_NAME"}


def _docker_compose() -> str:
    path = shutil.which("docker-compose")
    if path is None:
        pytest.fail(
            "docker-compose is not installed, so docker-compose.prod.yaml cannot be validated: "
            "run scripts/test.sh (it installs Debian's docker-compose package), or "
            "apt-get install -y docker-compose",
            pytrace=False,
        )
    return path


def run_config(env_file: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` with only `env_file` and `environment` as settings: the
    caller's environment (which compose would prefer over the file) is not passed on."""
    clean = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(Path.home()),
        **environment,
    }
    return subprocess.run(
        [_docker_compose(), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), "config"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def config(env_file: Path = SAMPLE_ENV, **environment: str) -> dict[str, Any]:
    result = run_config(env_file, **environment)
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    parsed = yaml.safe_load(result.stdout)
    assert isinstance(parsed, dict)
    return parsed


@pytest.fixture(scope="module")
def sample() -> dict[str, Any]:
    return config()


def _services(parsed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = parsed["services"]
    return services


def _env_lines(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _write_env(
    directory: Path, drop: tuple[str, ...] = (), overrides: dict[str, str] | None = None
) -> Path:
    """sample.env without `drop` and with `overrides`."""
    values = {k: v for k, v in _env_lines(SAMPLE_ENV).items() if k not in drop}
    values |= overrides or {}
    path = directory / "test.env"
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return path


@dataclass(frozen=True)
class Port:
    host_ip: str
    published: str
    target: int


def ports(service: dict[str, Any]) -> list[Port]:
    """`ports` in either form compose prints (short strings or long mappings)."""
    result = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            published = entry.get("published")
            result.append(
                Port(
                    str(entry.get("host_ip") or ""),
                    "" if published is None else str(published),
                    int(entry["target"]),
                )
            )
            continue
        spec = str(entry).partition("/")[0]
        head, _, target = spec.rpartition(":")
        host_ip, separator, published = head.rpartition(":")
        if not separator:
            host_ip, published = "", head
        result.append(Port(host_ip.strip("[]"), published, int(target)))
    return result


# --- the file is valid and secrets are required ----------------------------------------------


def test_docker_compose_is_installed() -> None:
    """Fails (never skips) without docker-compose, saying how to get it."""
    assert Path(_docker_compose()).exists()


def test_valid_with_the_sample_environment(sample: dict[str, Any]) -> None:
    assert set(_services(sample)) == set(ALL_SERVICES)


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("how", ["missing", "empty"])
def test_refuses_to_start_without_a_secret(secret: str, how: str, tmp_path: Path) -> None:
    if how == "missing":
        env_file = _write_env(tmp_path, drop=(secret,))
    else:
        env_file = _write_env(tmp_path, overrides={secret: ""})
    result = run_config(env_file)
    assert result.returncode != 0, f"compose accepted a deployment without {secret}"
    # The message follows the interpolated template (which names every variable).
    message = result.stderr.strip().rsplit("}", 1)[-1]
    assert f"{secret} is required" in message, result.stderr
    others = set(SECRETS) - {secret}
    assert not any(other in message for other in others), result.stderr


def test_secrets_reach_both_services_and_only_as_required_variables(
    sample: dict[str, Any],
) -> None:
    values = _env_lines(SAMPLE_ENV)
    for name in APP_SERVICES:
        environment = _services(sample)[name]["environment"]
        for secret in SECRETS:
            assert environment[secret] == values[secret], f"{name}: {secret}"
    text = COMPOSE_FILE.read_text()
    for secret in SECRETS:
        uses = re.findall(rf"\$\{{{secret}([^}}]*)\}}", text)
        assert uses, f"{secret} is not read from the environment"
        assert all(use.startswith(":?") for use in uses), f"${{{secret}}} without :?"
    assert not set(SECRETS) & set(_services(sample)["mongo"].get("environment", {}))


# --- ports -------------------------------------------------------------------------------------


def test_grpc_is_never_published(sample: dict[str, Any]) -> None:
    for name, service in _services(sample).items():
        for port in ports(service):
            assert port.target != GRPC_PORT, f"{name} publishes gRPC: {port}"
            assert port.published != str(GRPC_PORT), f"{name} publishes {GRPC_PORT}: {port}"
    master_data = _services(sample)["master-data"]
    assert str(GRPC_PORT) in {str(port) for port in master_data.get("expose", [])}


def test_master_data_http_is_on_the_host_loopback_with_an_ephemeral_port(
    sample: dict[str, Any],
) -> None:
    # An ephemeral host port (no fixed one) is what lets --scale master-data=N start.
    assert ports(_services(sample)["master-data"]) == [Port("127.0.0.1", "", 8002)]


def test_cart_http_is_published_on_the_configured_port(
    sample: dict[str, Any], tmp_path: Path
) -> None:
    assert ports(_services(sample)["cart"]) == [Port("", "18003", 8003)]
    default = config(_write_env(tmp_path, drop=("CART_HTTP_PORT",)))
    assert ports(_services(default)["cart"]) == [Port("", "8003", 8003)]


def test_mongo_is_not_published(sample: dict[str, Any]) -> None:
    assert ports(_services(sample)["mongo"]) == []


# --- the transport flag ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "env_file_values", "expected"),
    [
        ({"USE_GRPC": "true"}, {}, "true"),
        ({}, {"USE_GRPC": "true"}, "true"),
        ({"USE_GRPC": "false"}, {}, "false"),
        ({}, {}, "false"),  # unset: the one default
    ],
    ids=["environment-true", "env-file-true", "environment-false", "unset"],
)
def test_use_grpc_has_one_value_for_both_services(
    environment: dict[str, str], env_file_values: dict[str, str], expected: str, tmp_path: Path
) -> None:
    env_file = _write_env(tmp_path, drop=("USE_GRPC",), overrides=env_file_values)
    parsed = config(env_file, **environment)
    values = {name: _services(parsed)[name]["environment"]["USE_GRPC"] for name in APP_SERVICES}
    assert values == dict.fromkeys(APP_SERVICES, expected)


def test_use_grpc_default_is_written_once() -> None:
    uses = re.findall(r"\$\{USE_GRPC[^}]*\}", COMPOSE_FILE.read_text())
    assert uses == ["${USE_GRPC:-false}"], uses


def test_cart_reaches_master_data_on_the_compose_network(sample: dict[str, Any]) -> None:
    environment = _services(sample)["cart"]["environment"]
    assert environment["MASTER_DATA_GRPC_TARGET"] == f"dns:///master-data:{GRPC_PORT}"
    assert environment["MASTER_DATA_URL"] == "http://master-data:8002"


def test_services_run_in_production_mode_on_all_interfaces(sample: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        environment = _services(sample)[name]["environment"]
        assert environment["APP_ENV"] == "production", name
        assert environment["BIND_HOST"] == ALL_INTERFACES, name
        assert environment["MONGODB_URI"] == MONGODB_URI, name
    master_data = _services(sample)["master-data"]["environment"]
    assert master_data["GRPC_PORT"] == str(GRPC_PORT)
    assert master_data["MASTER_DATA_HTTP_PORT"] == "8002"
    assert _services(sample)["cart"]["environment"]["CART_HTTP_PORT"] == "8003"


# --- start order and operations ------------------------------------------------------------------


def _has_healthcheck(service: dict[str, Any]) -> bool:
    healthcheck = service.get("healthcheck")
    if healthcheck is not None:
        test = healthcheck.get("test")
        return not healthcheck.get("disable") and test not in (["NONE"], "NONE", None)
    build = service.get("build")
    if not isinstance(build, dict):
        return False
    dockerfile = Path(build["context"]) / build.get("dockerfile", "Dockerfile")
    lines = [line.strip() for line in dockerfile.read_text().splitlines()]
    return any(line.startswith("HEALTHCHECK") and line.split()[1:2] != ["NONE"] for line in lines)


def test_dependencies_wait_for_health(sample: dict[str, Any]) -> None:
    services = _services(sample)
    expected = {"master-data": {"mongo"}, "cart": {"mongo", "master-data"}}
    for name, needed in expected.items():
        depends_on = services[name]["depends_on"]
        assert isinstance(depends_on, dict), f"{name}: depends_on without conditions"
        assert set(depends_on) == needed, name
        for dependency, condition in depends_on.items():
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}"
            assert _has_healthcheck(services[dependency]), f"{dependency} has no healthcheck"
    for name in APP_SERVICES:
        assert _has_healthcheck(services[name]), name


def _bytes(size: str | int) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmg]?)b?", str(size).lower())
    assert match, f"memory size {size!r}"
    factor = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2)]
    return int(float(match.group(1)) * factor)


def test_restart_memory_and_log_rotation(sample: dict[str, Any]) -> None:
    for name, service in _services(sample).items():
        assert service.get("restart") in ("always", "unless-stopped"), name
        assert "mem_limit" in service, f"{name} has no memory limit"
        assert 64 * 1024**2 <= _bytes(service["mem_limit"]) <= 8 * 1024**3, name
        logging = service.get("logging", {})
        assert logging.get("driver") == "json-file", name
        options = logging.get("options", {})
        assert _bytes(options["max-size"]) > 0, name
        assert int(options["max-file"]) >= 2, name


def test_app_images_are_built_from_the_repository(sample: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        build = _services(sample)[name]["build"]
        assert Path(build["context"]).resolve() == ROOT, name
        assert (ROOT / build["dockerfile"]).is_file(), name
        assert build["dockerfile"] == f"services/{name}/Dockerfile"
        assert "container_name" not in _services(sample)[name], f"{name} could not scale"


def test_mongo_is_a_pinned_replica_set_with_a_volume(sample: dict[str, Any]) -> None:
    mongo = _services(sample)["mongo"]
    assert re.fullmatch(r"mongo:\d+\.\d+\.\d+", mongo["image"]), mongo["image"]
    command = mongo["command"]
    if isinstance(command, str):
        command = command.split()
    assert command[command.index("--replSet") + 1] == "rs0"
    assert "replicaSet=rs0" in MONGODB_URI

    test = mongo["healthcheck"]["test"]
    script = " ".join(test) if isinstance(test, list) else test
    assert "mongosh" in script
    assert "rs.status()" in script
    assert re.search(r"rs\.initiate\(\s*\{\s*_id:\s*'rs0'", script), script
    # The member's host must be the name the services connect to.
    assert "host: 'mongo:27017'" in script

    mounts = {}
    for volume in mongo["volumes"]:
        if isinstance(volume, dict):
            mounts[volume["target"]] = volume["source"]
        else:
            source, target = str(volume).split(":")[:2]
            mounts[target] = source
    assert mounts.get("/data/db") in sample.get("volumes", {}), "data is not on a named volume"


# --- .env.example and scripts/compose.sh -------------------------------------------------------


def test_env_example_lists_every_variable_with_empty_secrets() -> None:
    read = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", COMPOSE_FILE.read_text()))
    example = _env_lines(ENV_EXAMPLE)
    assert read <= set(example), f"missing from .env.example: {sorted(read - set(example))}"
    assert set(example) - read <= COMPOSE_OWN_VARIABLES, "unused variables in .env.example"
    for secret in SECRETS:
        assert example[secret] == "", f"{secret} must be empty in .env.example"
    assert "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'" in (
        ENV_EXAMPLE.read_text()
    )
    assert example["USE_GRPC"] == "false"


def test_sample_env_secrets_would_satisfy_production() -> None:
    values = _env_lines(SAMPLE_ENV)
    assert all(len(values[secret]) >= 32 for secret in SECRETS)
    assert values["ADMIN_TOKEN"] != values["SERVICE_TOKEN"]
    assert "USE_GRPC" not in values, "the unset case must stay testable"


def _fake_docker(directory: Path, has_compose_plugin: bool) -> Path:
    """A `docker` that prints its arguments; `docker compose version` fails without the plugin."""
    bin_dir = directory / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    status = 0 if has_compose_plugin else 1
    docker.write_text(
        f'#!/bin/sh\nif [ "$1 $2" = "compose version" ]; then exit {status}; fi\necho "docker $*"\n'
    )
    docker.chmod(0o755)
    return bin_dir


def _run_script(bin_dir: Path, cwd: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(COMPOSE_SCRIPT), *arguments],
        cwd=cwd,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(cwd)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_script_prefers_docker_compose_plugin(tmp_path: Path) -> None:
    bin_dir = _fake_docker(tmp_path, has_compose_plugin=True)
    logs = _run_script(bin_dir, tmp_path, "logs", "cart")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.strip() == (
        "docker compose -f docker-compose.prod.yaml logs --follow --tail=100 cart"
    )
    up = _run_script(bin_dir, tmp_path, "up", "-d", "--scale", "master-data=3")
    assert up.stdout.strip() == (
        "docker compose -f docker-compose.prod.yaml up -d --scale master-data=3"
    )
    for command in ("build", "down"):
        result = _run_script(bin_dir, tmp_path, command)
        assert result.stdout.strip().endswith(f"docker-compose.prod.yaml {command}")
    assert _run_script(bin_dir, tmp_path).returncode != 0  # usage


def test_compose_script_falls_back_to_docker_compose_from_any_directory(
    tmp_path: Path,
) -> None:
    docker_compose = _docker_compose()
    bin_dir = _fake_docker(tmp_path, has_compose_plugin=False)
    (bin_dir / "docker-compose").symlink_to(docker_compose)
    values = _env_lines(SAMPLE_ENV)
    result = subprocess.run(
        ["bash", str(COMPOSE_SCRIPT), "config", "--services"],
        cwd=tmp_path,
        env={
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(tmp_path),
            **{secret: values[secret] for secret in SECRETS},
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == set(ALL_SERVICES)
