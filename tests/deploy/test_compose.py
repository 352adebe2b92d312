"""docker-compose.prod.yaml, validated offline: `docker-compose ... config` interpolates and
checks the file without a Docker engine, and the assertions read what it prints; and
scripts/compose.sh, with a stand-in `docker`.

docker-compose (Debian's 1.29 package) is installed by scripts/test.sh; without it these tests
fail rather than skip.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import yaml
from pymongo import uri_parser

from pos_commons.settings import ServiceSettings
from tests.deploy.test_dockerfiles import SERVICE_IDS, SERVICES, Service, _healthcheck_command

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.prod.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
COMPOSE_SCRIPT = ROOT / "scripts/compose.sh"
SAMPLE_ENV = Path(__file__).with_name("sample.env")

APP_SERVICES = ("master-data", "cart")
# Settings of each service that come from secret files: service -> setting -> compose secret.
# Each service has its own admin token: cart's terminal-key API takes cart_admin_token, and
# master-data's admin token (catalog, prices, payment methods) never reaches cart.
APP_SECRETS = {
    "master-data": {
        "ADMIN_TOKEN": "admin_token",
        "SERVICE_TOKEN": "service_token",
        "METRICS_TOKEN": "metrics_token",
        "MONGODB_URI": "master_data_mongodb_uri",
    },
    "cart": {
        "ADMIN_TOKEN": "cart_admin_token",
        "SERVICE_TOKEN": "service_token",
        "METRICS_TOKEN": "metrics_token",
        "MONGODB_URI": "cart_mongodb_uri",
    },
}
SECRET_SETTINGS = {setting for settings in APP_SECRETS.values() for setting in settings}
# What one service holds and the other must never be given: its admin token, its MongoDB
# user's URI (and that user's password, which only mongo holds).
OWN_SECRETS = {
    "master-data": {"admin_token", "master_data_mongodb_uri", "mongo_master_data_password"},
    "cart": {"cart_admin_token", "cart_mongodb_uri", "mongo_cart_password"},
}
MONGO_SECRETS = (
    "mongo_root_password", "mongo_cart_password", "mongo_master_data_password", "mongo_keyfile"
)  # fmt: skip
ROLES_FILE = ROOT / "deploy/mongo/roles.json"
CORE_SERVICES = ("mongo", *APP_SERVICES)
# Tracing, each behind a compose profile (started only when asked for): nothing depends on
# them, and their images (distroless) have nothing a healthcheck could run.
OPTIONAL_SERVICES = {"otel-collector": "tracing", "jaeger": "jaeger"}
ALL_SERVICES = (*CORE_SERVICES, *OPTIONAL_SERVICES)
COLLECTOR_CONFIG = ROOT / "deploy/compose/otel-collector/config.yaml"
GRPC_PORT = 50051
MONGO_INIT = ROOT / "deploy/compose/mongo-init"
MONGO_HEALTHCHECK = ROOT / "deploy/compose/mongo-healthcheck/healthcheck.js"
# SIGTERM: drain (SHUTDOWN_DRAIN_SECONDS) + gRPC grace (GRPC_SHUTDOWN_GRACE_SECONDS) + 5 s
# for HTTP requests in flight (master-data's __main__), by default.
STOP_NEEDS_SECONDS = 5 + 5 + 5
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


def _secret_name(entry: str | dict[str, Any]) -> str:
    return entry if isinstance(entry, str) else str(entry["source"])


def compose_script_secrets() -> set[str]:
    """The SECRETS=(...) list of scripts/compose.sh."""
    match = re.search(r"^SECRETS=\(([^)]*)\)", COMPOSE_SCRIPT.read_text(), re.MULTILINE)
    assert match, "scripts/compose.sh has no SECRETS=(...)"
    return set(match.group(1).split())


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", duration)
    assert match, f"duration {duration!r}"
    return float(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[match.group(2)]


# --- the file is valid; secrets are files, never variables ----------------------------------------


def test_docker_compose_is_installed() -> None:
    """Fails (never skips) without docker-compose, saying how to get it."""
    assert Path(_docker_compose()).exists()


def test_valid_with_the_sample_environment(sample: dict[str, Any]) -> None:
    assert set(_services(sample)) == set(ALL_SERVICES)


def _compose_spec_errors(document: dict[str, Any]) -> list[str]:
    """Errors against the Compose Specification's schema, the format `docker compose` (v2)
    reads (as vendored by check-jsonschema, pinned in the dev dependencies)."""
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def test_valid_for_compose_v2_too() -> None:
    """docker-compose 1.29 validates above; no compose v2 here, so its schema checks the file
    as written (interpolation placeholders included, as v2 reads it)."""
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert _compose_spec_errors(document) == []
    # The check bites: a misspelt key is an error.
    document["services"]["cart"]["pids_limt"] = 10
    assert _compose_spec_errors(document)


def test_secrets_reach_the_services_as_files_only(sample: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        service = _services(sample)[name]
        environment = service["environment"]
        mounted = {_secret_name(entry) for entry in service["secrets"]}
        for setting, secret in APP_SECRETS[name].items():
            assert setting not in environment, f"{name}: {setting} as a variable"
            assert environment[f"{setting}_FILE"] == f"/run/secrets/{secret}", name
            assert secret in mounted, f"{name} does not mount {secret}"
        # Nothing more than it reads: a mounted secret is one more thing a breach of it leaks.
        assert mounted == set(APP_SECRETS[name].values()), name
    mongo = _services(sample)["mongo"]
    assert {_secret_name(entry) for entry in mongo["secrets"]} == set(MONGO_SECRETS)
    assert "MONGO_INITDB_ROOT_PASSWORD" not in mongo["environment"]
    assert mongo["environment"]["MONGO_INITDB_ROOT_PASSWORD_FILE"] == (
        "/run/secrets/mongo_root_password"
    )
    # Nothing secret is interpolated into the file from .env or the environment.
    text = COMPOSE_FILE.read_text()
    for variable in (*SECRET_SETTINGS, "MONGO_INITDB_ROOT_PASSWORD", "PASSWORD"):
        assert f"${{{variable}" not in text, variable


def _secret_files_named(service: dict[str, Any]) -> set[str]:
    """The secrets a service's environment points at (`/run/secrets/<name>` values)."""
    return {
        str(value).removeprefix("/run/secrets/")
        for value in service.get("environment", {}).values()
        if str(value).startswith("/run/secrets/")
    }


def test_each_service_holds_only_its_own_admin_token_and_mongodb_user(
    sample: dict[str, Any],
) -> None:
    """cart (the internet-facing one) is never given master-data's admin token, which could
    rewrite the catalog, prices and payment methods, nor master-data's MongoDB URI; nor
    master-data cart's."""
    services = _services(sample)
    for name in APP_SERVICES:
        mounted = {_secret_name(entry) for entry in services[name]["secrets"]}
        held = mounted | _secret_files_named(services[name])
        for other in APP_SERVICES:
            if other != name:
                assert not held & OWN_SECRETS[other], f"{name} is given {held & OWN_SECRETS[other]}"
    for setting in ("ADMIN_TOKEN_FILE", "MONGODB_URI_FILE"):
        files = {services[name]["environment"][setting] for name in APP_SERVICES}
        assert len(files) == len(APP_SERVICES), files
    # The check bites: cart given master-data's admin token again is caught.
    broken = {**services["cart"], "secrets": [*services["cart"]["secrets"], "admin_token"]}
    assert {_secret_name(entry) for entry in broken["secrets"]} & OWN_SECRETS["master-data"]


def test_every_secret_used_is_declared_and_made_by_init_secrets(sample: dict[str, Any]) -> None:
    declared = set(sample["secrets"])
    for name, service in _services(sample).items():
        used = {_secret_name(entry) for entry in service.get("secrets", [])}
        assert used <= declared, f"{name} uses undeclared {used - declared}"
        assert _secret_files_named(service) <= used, f"{name} names a secret it does not mount"
    assert compose_script_secrets() == declared


def test_secret_files_come_from_the_secrets_folder(sample: dict[str, Any], tmp_path: Path) -> None:
    expected = {secret for secrets in APP_SECRETS.values() for secret in secrets.values()}
    expected |= set(MONGO_SECRETS)
    assert set(sample["secrets"]) == expected
    for name, secret in sample["secrets"].items():
        assert secret["file"] == f"{_env_lines(SAMPLE_ENV)['POS_SECRETS_DIR']}/{name}"
    default = config(_write_env(tmp_path, drop=("POS_SECRETS_DIR",)))
    for name, secret in default["secrets"].items():
        assert secret["file"] == str(ROOT / "secrets" / name)
    assert compose_script_secrets() == expected


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


def test_cart_http_is_published_on_host_loopback_by_default(
    sample: dict[str, Any], tmp_path: Path
) -> None:
    assert ports(_services(sample)["cart"]) == [Port("127.0.0.1", "18003", 8003)]
    default = config(_write_env(tmp_path, drop=("CART_HTTP_PORT",)))
    assert ports(_services(default)["cart"]) == [Port("127.0.0.1", "8003", 8003)]
    everywhere = config(_write_env(tmp_path, overrides={"CART_PUBLISH_ADDRESS": ALL_INTERFACES}))
    assert ports(_services(everywhere)["cart"]) == [Port(ALL_INTERFACES, "18003", 8003)]


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
    master_data = _services(sample)["master-data"]["environment"]
    assert master_data["GRPC_PORT"] == str(GRPC_PORT)
    assert master_data["MASTER_DATA_HTTP_PORT"] == "8002"
    assert _services(sample)["cart"]["environment"]["CART_HTTP_PORT"] == "8003"


# --- start order and operations ------------------------------------------------------------------


def _compose_healthcheck(service: dict[str, Any]) -> list[str]:
    """The healthcheck declared in the compose file itself: OCI-format images (podman,
    buildah) drop a Dockerfile's HEALTHCHECK, and `service_healthy` would never hold."""
    healthcheck = service.get("healthcheck")
    assert healthcheck, "no healthcheck in the compose file"
    assert not healthcheck.get("disable")
    test = healthcheck["test"]
    assert isinstance(test, list), "exec form, no shell"
    assert test[0] == "CMD", test
    assert {"interval", "timeout", "retries"} <= healthcheck.keys()
    return [str(word) for word in test[1:]]


def test_dependencies_wait_for_health(sample: dict[str, Any]) -> None:
    services = _services(sample)
    expected = {"master-data": {"mongo"}, "cart": {"mongo", "master-data"}}
    for name, needed in expected.items():
        depends_on = services[name]["depends_on"]
        assert isinstance(depends_on, dict), f"{name}: depends_on without conditions"
        assert set(depends_on) == needed, name
        for dependency, condition in depends_on.items():
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}"
    for name in CORE_SERVICES:
        assert _compose_healthcheck(services[name]), name


@pytest.mark.parametrize("service", SERVICES, ids=SERVICE_IDS)
def test_service_healthchecks_are_the_images_own(sample: dict[str, Any], service: Service) -> None:
    """Python, the same command as the Dockerfile's HEALTHCHECK (which tests/deploy/
    test_dockerfiles.py runs against a stand-in server)."""
    declared = _compose_healthcheck(_services(sample)[service.member.split("/")[-1]])
    assert declared == _healthcheck_command(service)
    assert declared[:3] == ["python", "-m", "pos_commons.healthcheck"]


def test_master_data_replicas_are_in_the_file(sample: dict[str, Any], tmp_path: Path) -> None:
    """So that `up -d` (a flip of USE_GRPC) keeps them, instead of scaling back to one."""
    assert _services(sample)["master-data"]["deploy"]["replicas"] == 3
    default = config(_write_env(tmp_path, drop=("MASTER_DATA_REPLICAS",)))
    assert _services(default)["master-data"]["deploy"]["replicas"] == 2
    assert _services(sample)["cart"]["deploy"]["replicas"] == 1


def test_containers_get_time_to_drain(sample: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        grace = _seconds(_services(sample)[name]["stop_grace_period"])
        assert grace >= STOP_NEEDS_SECONDS + 5, f"{name}: stop_grace_period {grace}s"


def _bytes(size: str | int) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmg]?)b?", str(size).lower())
    assert match, f"memory size {size!r}"
    factor = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2)]
    return int(float(match.group(1)) * factor)


def test_restart_limits_and_log_rotation(sample: dict[str, Any]) -> None:
    for name, service in _services(sample).items():
        assert service.get("restart") in ("always", "unless-stopped"), name
        assert "mem_limit" in service, f"{name} has no memory limit"
        assert 64 * 1024**2 <= _bytes(service["mem_limit"]) <= 8 * 1024**3, name
        assert 0 < float(service["cpus"]) <= 4, f"{name} has no CPU limit"
        assert 64 <= int(service["pids_limit"]) <= 4096, f"{name} has no pids_limit"
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        logging = service.get("logging", {})
        assert logging.get("driver") == "json-file", name
        options = logging.get("options", {})
        assert _bytes(options["max-size"]) > 0, name
        assert int(options["max-file"]) >= 2, name
    for name in APP_SERVICES:
        service = _services(sample)[name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name


def test_app_images_are_built_from_the_repository(sample: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        build = _services(sample)[name]["build"]
        assert Path(build["context"]).resolve() == ROOT, name
        assert (ROOT / build["dockerfile"]).is_file(), name
        assert build["dockerfile"] == f"services/{name}/Dockerfile"
        assert "container_name" not in _services(sample)[name], f"{name} could not scale"


def _mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Bind mounts and volumes of a service: container path -> (source, mode)."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mode = "ro" if volume.get("read_only") else "rw"
            mounts[volume["target"]] = (str(volume["source"]), mode)
        else:
            source, target, *options = str(volume).split(":")
            mounts[target] = (source, options[0] if options else "rw")
    return mounts


def _mongo_healthcheck_script(mongo: dict[str, Any]) -> str:
    """The text of the script mongo's healthcheck runs (`mongosh --quiet --file <path>`),
    read from the repository folder that is mounted read-only at that path's folder."""
    command = _compose_healthcheck(mongo)
    assert command[:3] == ["mongosh", "--quiet", "--file"], command
    assert len(command) == 4, command
    in_container = PurePosixPath(command[-1])
    matches = [
        (target, source, mode)
        for target, (source, mode) in _mounts(mongo).items()
        if in_container.parent == PurePosixPath(target)
    ]
    assert len(matches) == 1, f"{in_container} is not in a mounted folder"
    target, source, mode = matches[0]
    assert mode == "ro", f"{target} is mounted {mode}"
    # The image runs every *.js of /docker-entrypoint-initdb.d once: not the healthcheck.
    assert Path(source).resolve() != MONGO_INIT.resolve()
    assert Path(source).resolve() == MONGO_HEALTHCHECK.parent
    return (Path(source) / in_container.name).read_text()


def test_healthcheck_arguments_are_single_words(sample: dict[str, Any]) -> None:
    """Every healthcheck is an exec-form list of arguments none of which holds whitespace.

    podman's Docker-compatible API (4.x) splits a healthcheck argument that contains spaces
    into words: mongosh given `--eval <a script with spaces>` failed every check there, and
    mongo never became healthy. Docker passes each argument as it is; single words are the
    same on both engines."""
    for name, service in _services(sample).items():
        if name in OPTIONAL_SERVICES and "healthcheck" not in service:
            continue
        test = service["healthcheck"]["test"]
        assert isinstance(test, list), f"{name}: {test!r} is not a list of arguments"
        assert test[0] == "CMD", f"{name}: {test[0]!r} (CMD-SHELL and NONE are not exec form)"
        for argument in test[1:]:
            assert isinstance(argument, str), f"{name}: {argument!r}"
            assert argument, f"{name}: an empty argument"
            assert not re.search(r"\s", argument), (
                f"{name}: healthcheck argument {argument!r} contains whitespace"
            )


def _mongo_command(mongo: dict[str, Any]) -> str:
    command = mongo["command"]
    return command if isinstance(command, str) else " ".join(command)


def test_mongo_is_a_pinned_replica_set_with_a_volume(sample: dict[str, Any]) -> None:
    mongo = _services(sample)["mongo"]
    assert re.fullmatch(r"mongo:\d+\.\d+\.\d+", mongo["image"]), mongo["image"]
    command = _mongo_command(mongo)
    assert re.search(r"exec docker-entrypoint\.sh mongod .*--replSet rs0\b", command), command

    script = _mongo_healthcheck_script(mongo)
    assert "rs.status()" in script
    assert re.search(r"rs\.initiate\(\s*\{\s*_id:\s*'rs0'", script), script
    # The member's host must be the name the services connect to (compose.sh's URI).
    assert "host: 'mongo:27017'" in script
    assert "@mongo:27017/?replicaSet=rs0" in COMPOSE_SCRIPT.read_text()
    assert "quit(db.hello().isWritablePrimary ? 0 : 1)" in script

    mounts = {target: source for target, (source, _) in _mounts(mongo).items()}
    assert mounts.get("/data/db") in sample.get("volumes", {}), "data is not on a named volume"
    assert mounts.get("/data/configdb") in sample.get("volumes", {})
    assert Path(mounts["/docker-entrypoint-initdb.d"]) == MONGO_INIT


def test_mongo_requires_authentication(sample: dict[str, Any]) -> None:
    mongo = _services(sample)["mongo"]
    command = _mongo_command(mongo)
    # A keyfile implies authentication; mongod refuses one that others can read, hence the copy.
    keyfile = re.search(r"--keyFile (\S+)", command)
    assert keyfile, command
    assert f"/run/secrets/mongo_keyfile {keyfile.group(1)}" in command
    assert "install -m 400 -o mongodb" in command
    assert keyfile.group(1).startswith("/data/configdb/"), "the copy must survive a restart"
    environment = mongo["environment"]
    assert environment["MONGO_INITDB_ROOT_USERNAME"] == "root"
    # The healthcheck logs in as root, reading the password file itself.
    script = _mongo_healthcheck_script(mongo)
    assert "auth('root'" in script
    assert "readFileSync('/run/secrets/mongo_root_password'" in script


def _roles() -> dict[str, Any]:
    users: dict[str, Any] = json.loads(ROLES_FILE.read_text())["users"]
    return users


def test_mongo_creates_one_user_per_service_from_the_roles_file(sample: dict[str, Any]) -> None:
    """The init script reads deploy/mongo/roles.json (mounted read-only where
    POS_MONGO_ROLES_FILE says) and each user's password from its own secret; compose.sh puts
    the same user and password into the URI of the service that user is for."""
    mongo = _services(sample)["mongo"]
    environment = mongo["environment"]
    roles_file = PurePosixPath(environment["POS_MONGO_ROLES_FILE"])
    mounted = {PurePosixPath(target): source for target, (source, _) in _mounts(mongo).items()}
    assert Path(mounted[roles_file.parent]) / roles_file.name == ROLES_FILE
    assert _mounts(mongo)[str(roles_file.parent)][1] == "ro"
    # Not in /docker-entrypoint-initdb.d, whose every *.js the image runs.
    assert Path(mounted[PurePosixPath("/docker-entrypoint-initdb.d")]) == MONGO_INIT
    mongo_secrets = {_secret_name(entry) for entry in mongo["secrets"]}
    script = COMPOSE_SCRIPT.read_text()
    users = _roles()
    assert set(users) == {"cart", "master_data"}
    for user, spec in users.items():
        password = f"mongo_{user}_password"
        assert environment[f"POS_MONGO_{user.upper()}_PASSWORD_FILE"] == f"/run/secrets/{password}"
        assert password in mongo_secrets
        service = _services(sample)[spec["service"]]
        assert service["environment"]["MONGODB_URI_FILE"] == f"/run/secrets/{user}_mongodb_uri"
    assert "for user in cart master_data; do" in script
    assert "mongodb://%s:%s@mongo:27017/" in script
    text = "\n".join(path.read_text() for path in sorted(MONGO_INIT.glob("*.js")))
    assert "process.env.POS_MONGO_ROLES_FILE" in text
    assert "readWriteAnyDatabase" not in text


def _run_init_script(tmp_path: Path, existing: bool, logged_in: bool) -> list[Any]:
    """deploy/compose/mongo-init's script run by Node.js, with a stand-in for mongosh's `db`
    that records the calls it gets (no MongoDB here): what the script would ask of MongoDB.
    `existing`: the roles and users exist already; `logged_in`: the session is (the
    entrypoint's first run needs no login)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js (node) is needed to run the mongosh init script", pytrace=False)
    (script,) = sorted(MONGO_INIT.glob("*.js"))
    for name in ("mongo_cart_password", "mongo_master_data_password", "mongo_root_password"):
        (tmp_path / name).write_text(f"{name}-value\n")
    runner = tmp_path / "run.js"
    runner.write_text(
        """
const vm = require('vm');
const fs = require('fs');
const calls = [];
const existing = process.argv[3] === 'true';
const loggedIn = process.argv[4] === 'true';
const admin = {
  runCommand: (c) => ({ authInfo: { authenticatedUsers: loggedIn ? [{ user: 'root' }] : [] } }),
  auth: (user, pwd) => { calls.push(['auth', user, pwd]); return 1; },
  getRole: (r) => (existing ? { role: r } : null),
  getUser: (u) => (existing ? { user: u } : null),
  createRole: (d) => calls.push(['createRole', d]),
  updateRole: (r, d) => calls.push(['updateRole', r, d]),
  createUser: (d) => calls.push(['createUser', d]),
  updateUser: (u, d) => calls.push(['updateUser', u, d]),
};
const db = { getSiblingDB: (name) => { calls.push(['getSiblingDB', name]); return admin; } };
vm.runInNewContext(fs.readFileSync(process.argv[2], 'utf8'), {
  db, require, process, print: () => {},
});
console.log(JSON.stringify(calls));
"""
    )
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "POS_MONGO_ROLES_FILE": str(ROLES_FILE),
        "POS_MONGO_CART_PASSWORD_FILE": str(tmp_path / "mongo_cart_password"),
        "POS_MONGO_MASTER_DATA_PASSWORD_FILE": str(tmp_path / "mongo_master_data_password"),
        "MONGO_INITDB_ROOT_USERNAME": "root",
        "MONGO_INITDB_ROOT_PASSWORD_FILE": str(tmp_path / "mongo_root_password"),
    }
    result = subprocess.run(
        [node, str(runner), str(script), str(existing).lower(), str(logged_in).lower()],
        env=environment, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    calls: list[Any] = json.loads(result.stdout)
    return calls


def test_the_init_script_makes_each_role_and_user_of_the_roles_file(tmp_path: Path) -> None:
    calls = _run_init_script(tmp_path, existing=False, logged_in=True)
    users = _roles()
    assert ["getSiblingDB", "admin"] in calls
    assert not [call for call in calls if call[0] == "auth"], "logged in already"
    roles = {call[1]["role"]: call[1] for call in calls if call[0] == "createRole"}
    created = {call[1]["user"]: call[1] for call in calls if call[0] == "createUser"}
    assert set(created) == set(users)
    for user, spec in users.items():
        expected = [
            {"resource": p["resource"], "actions": p["actions"]} for p in spec["privileges"]
        ]
        assert roles[spec["role"]] == {"role": spec["role"], "privileges": expected, "roles": []}
        assert created[user]["pwd"] == f"mongo_{user}_password-value"
        assert created[user]["roles"] == [{"role": spec["role"], "db": "admin"}]


def test_the_init_script_run_again_logs_in_and_updates(tmp_path: Path) -> None:
    """Run by hand in the running container: it logs in as root, then brings the existing
    roles and users to what the roles file says (a changed roles.json applied)."""
    calls = _run_init_script(tmp_path, existing=True, logged_in=False)
    assert calls[1] == ["auth", "root", "mongo_root_password-value"]
    assert not [call for call in calls if call[0] in ("createRole", "createUser")]
    users = _roles()
    updated_roles = {call[1] for call in calls if call[0] == "updateRole"}
    assert updated_roles == {spec["role"] for spec in users.values()}
    assert {call[1] for call in calls if call[0] == "updateUser"} == set(users)


# --- .env.example and scripts/compose.sh -------------------------------------------------------


def test_env_example_lists_every_variable_and_no_secret() -> None:
    read = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", COMPOSE_FILE.read_text()))
    example = _env_lines(ENV_EXAMPLE)
    assert read <= set(example), f"missing from .env.example: {sorted(read - set(example))}"
    assert set(example) - read <= COMPOSE_OWN_VARIABLES, "unused variables in .env.example"
    assert not set(example) & SECRET_SETTINGS
    assert "scripts/compose.sh init-secrets" in ENV_EXAMPLE.read_text()
    assert example["USE_GRPC"] == "false"
    assert example["CART_PUBLISH_ADDRESS"] == "127.0.0.1"


def test_sample_env_leaves_use_grpc_unset() -> None:
    assert "USE_GRPC" not in _env_lines(SAMPLE_ENV), "the unset case must stay testable"


def _init_secrets(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(COMPOSE_SCRIPT), "init-secrets"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(directory), "POS_SECRETS_DIR": str(directory)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_init_secrets_makes_every_secret_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "secrets"
    result = _init_secrets(folder)
    assert result.returncode == 0, result.stderr
    files = {path.name: path for path in folder.iterdir()}
    assert set(files) == compose_script_secrets()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name, path in files.items():
        mode = 0o600 if name == "mongo_keyfile" else 0o644  # why: scripts/compose.sh
        assert stat.S_IMODE(path.stat().st_mode) == mode, name
    values = {name: path.read_text() for name, path in files.items()}
    token_files = ("admin_token", "cart_admin_token", "service_token", "metrics_token")
    tokens = [values[name] for name in token_files]
    assert len(set(tokens)) == len(token_files)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", token) for token in tokens)
    # mongod's keyfile: 6 to 1024 base64 characters.
    assert re.fullmatch(r"[A-Za-z0-9+/=]{6,1024}", values["mongo_keyfile"])
    # Each service's URI names its own MongoDB user, with the password mongo creates it with.
    passwords = [values[f"mongo_{user}_password"] for user in _roles()]
    assert len(set(passwords)) == len(passwords)
    for user, spec in _roles().items():
        uri = uri_parser.parse_uri(values[APP_SECRETS[spec["service"]]["MONGODB_URI"]])
        assert uri["username"] == user
        assert uri["password"] == values[f"mongo_{user}_password"]
        assert uri["nodelist"] == [("mongo", 27017)]
        assert uri["options"]["replicaSet"] == "rs0"
        assert uri["options"]["authSource"] == "admin"

    # Each service accepts its own as they are in production.
    monkeypatch.setenv("APP_ENV", "production")
    for name, secrets in APP_SECRETS.items():
        for setting, secret in secrets.items():
            monkeypatch.delenv(setting, raising=False)
            monkeypatch.setenv(f"{setting}_FILE", str(files[secret]))
        settings = ServiceSettings()
        assert settings.mongodb_uri.get_secret_value() == values[secrets["MONGODB_URI"]], name
        admin = settings.admin_token
        assert admin is not None
        assert admin.get_secret_value() == values[secrets["ADMIN_TOKEN"]], name

    # Never replaced: MongoDB keeps the passwords it was initialised with.
    files["admin_token"].unlink()
    assert _init_secrets(folder).returncode == 0
    again = {path.name: path.read_text() for path in folder.iterdir()}
    assert again.pop("admin_token") != values.pop("admin_token")
    assert again == values


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
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "HOME": str(cwd),
            "POS_SECRETS_DIR": str(cwd / "secrets"),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_script_prefers_docker_compose_plugin(tmp_path: Path) -> None:
    bin_dir = _fake_docker(tmp_path, has_compose_plugin=True)
    assert _init_secrets(tmp_path / "secrets").returncode == 0
    logs = _run_script(bin_dir, tmp_path, "logs", "cart")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.strip() == (
        "docker compose -f docker-compose.prod.yaml logs --follow --tail=100 cart"
    )
    up = _run_script(bin_dir, tmp_path, "up", "-d", "--scale", "master-data=3")
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip() == (
        "docker compose -f docker-compose.prod.yaml up -d --scale master-data=3"
    )
    for command in ("build", "down"):
        result = _run_script(bin_dir, tmp_path, command)
        assert result.stdout.strip().endswith(f"docker-compose.prod.yaml {command}")
    assert _run_script(bin_dir, tmp_path).returncode != 0  # usage


def test_compose_script_refuses_up_without_the_secret_files(tmp_path: Path) -> None:
    bin_dir = _fake_docker(tmp_path, has_compose_plugin=True)
    up = _run_script(bin_dir, tmp_path, "up", "-d")
    assert up.returncode == 1
    assert up.stdout == "", "compose was called"
    assert "scripts/compose.sh init-secrets" in up.stderr
    assert _init_secrets(tmp_path / "secrets").returncode == 0
    (tmp_path / "secrets" / "mongo_keyfile").write_text("")
    up = _run_script(bin_dir, tmp_path, "up", "-d")
    assert up.returncode == 1
    assert "mongo_keyfile" in up.stderr


def test_compose_script_falls_back_to_docker_compose_from_any_directory(
    tmp_path: Path,
) -> None:
    docker_compose = _docker_compose()
    bin_dir = _fake_docker(tmp_path, has_compose_plugin=False)
    (bin_dir / "docker-compose").symlink_to(docker_compose)
    result = subprocess.run(
        ["bash", str(COMPOSE_SCRIPT), "config", "--services"],
        cwd=tmp_path,
        env={
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == set(ALL_SERVICES)


def _documented_commands(subcommand: str) -> list[list[str]]:
    """The arguments of every `scripts/compose.sh <subcommand> ...` shown in README.md and
    docs/*.md (up to a `#` comment or the end of a code span)."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        pattern = rf"scripts/compose\.sh ({subcommand}\b[^#`\n]*)"
        found += [shlex.split(match.group(1)) for match in re.finditer(pattern, path.read_text())]
    return found


def test_documented_logs_commands_pass_docker_compose_1_29(tmp_path: Path) -> None:
    """compose.sh's `logs` passes --follow itself; docker-compose 1.29 answers a further -f
    with the usage of `logs` (exit status 0) and shows no log. Each documented command, run
    through the script against the real docker-compose and an engine that is not there, must
    get past argument parsing to the failed connection."""
    commands = _documented_commands("logs")
    assert commands, "no documented `scripts/compose.sh logs`"
    bin_dir = _fake_docker(tmp_path, has_compose_plugin=False)
    (bin_dir / "docker-compose").symlink_to(_docker_compose())
    for arguments in commands:
        result = subprocess.run(
            ["bash", str(COMPOSE_SCRIPT), *arguments],
            cwd=tmp_path,
            env={
                "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                "HOME": str(tmp_path),
                "POS_SECRETS_DIR": str(tmp_path / "secrets"),
                "DOCKER_HOST": f"unix://{tmp_path / 'no-engine.sock'}",
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        output = result.stdout + result.stderr
        assert "Usage:" not in output, f"{arguments}: docker-compose refused the arguments"
        assert result.returncode != 0, f"{arguments}: {output[-2000:]}"
        assert re.search(r"connect|Connection|FileNotFoundError", output), output[-2000:]


# --- tracing, optional -----------------------------------------------------------------------


def test_tracing_services_start_only_with_their_profiles(sample: dict[str, Any]) -> None:
    services = _services(sample)
    for name, profile in OPTIONAL_SERVICES.items():
        assert services[name]["profiles"] == [profile], name
        assert re.search(r":\d+\.\d+\.\d+$", services[name]["image"]), f"{name}: unpinned"
    for name in CORE_SERVICES:
        assert "profiles" not in services[name], f"{name} must always start"
        assert not set(services[name].get("depends_on", {})) & set(OPTIONAL_SERVICES), name


def test_tracing_is_off_unless_asked_for(sample: dict[str, Any], tmp_path: Path) -> None:
    for name in APP_SERVICES:
        assert _services(sample)[name]["environment"]["OTEL_TRACES_EXPORTER"] == "none", name
    traced = config(
        _write_env(tmp_path, overrides={"OTEL_TRACES_EXPORTER": "otlp"}),
        OTEL_TRACES_SAMPLER_ARG="1.0",
    )
    collector = _services(traced)["otel-collector"]
    for name in APP_SERVICES:
        environment = _services(traced)[name]["environment"]
        assert environment["OTEL_TRACES_EXPORTER"] == "otlp", name
        assert environment["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio", name
        assert environment["OTEL_TRACES_SAMPLER_ARG"] == "1.0", name
        # The collector by its service name, on the port it listens on.
        endpoint = environment["OTEL_EXPORTER_OTLP_ENDPOINT"]
        assert endpoint == "http://otel-collector:4318", name
        assert "4318" in [str(port) for port in collector["expose"]]


def test_the_collector_forwards_to_jaeger_unless_told_otherwise(sample: dict[str, Any]) -> None:
    services = _services(sample)
    collector = services["otel-collector"]
    assert collector["environment"]["TRACE_BACKEND_OTLP_ENDPOINT"] == "jaeger:4317"
    assert "4317" in [str(port) for port in services["jaeger"]["expose"]]
    assert not ports(collector), "the collector is for the compose network only"
    (viewer,) = ports(services["jaeger"])
    assert (viewer.host_ip, viewer.target) == ("127.0.0.1", 16686)
    mounts = _mounts(collector)
    assert mounts["/etc/otelcol/config.yaml"] == (str(COLLECTOR_CONFIG), "ro")
    pipeline = yaml.safe_load(COLLECTOR_CONFIG.read_text())
    traces = pipeline["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    assert pipeline["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    assert set(traces["processors"]) <= set(pipeline["processors"])
    (exporter,) = traces["exporters"]
    assert pipeline["exporters"][exporter]["endpoint"] == "${env:TRACE_BACKEND_OTLP_ENDPOINT}"
