"""The services' Dockerfiles, checked without a Docker engine.

Shape: multi-stage on one pinned slim Python base, dependencies from uv.lock with uv (frozen,
no dev), a non-root runtime stage that receives only the built virtualenv, a HEALTHCHECK in
Python (run here against a stand-in server), CMD running the service module.

Contents, both ways, computed from uv.lock: every distribution the service's code (and
pos_commons') imports at run time is in the non-dev dependency closure of the package the
Dockerfile installs; and every distribution of that closure is needed by what the image runs
(imported by the service or by a pos_commons module it imports, or a dependency of one that
is). So each image installs what it runs and nothing else; test and development tooling never.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import json
import platform
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet

from pos_devstack.processes import LoopbackHttpServer, QuietHandler, free_port

ROOT = Path(__file__).resolve().parents[2]
COMMONS_SRC = ROOT / "services/commons/src/pos_commons"


@dataclass(frozen=True)
class Service:
    package: str  # the distribution the image installs (uv.lock name)
    module: str  # python -m <module>
    member: str  # workspace member directory
    port: int
    port_variable: str

    @property
    def dockerfile(self) -> Path:
        return ROOT / self.member / "Dockerfile"

    @property
    def source(self) -> Path:
        return ROOT / self.member / "src" / self.module


SERVICES = [
    Service(
        "pos-master-data", "master_data", "services/master-data", 8002, "MASTER_DATA_HTTP_PORT"
    ),
    Service("pos-cart", "cart", "services/cart", 8003, "CART_HTTP_PORT"),
]
SERVICE_IDS = [service.module for service in SERVICES]

# Never in a service image: GPL test database, test runners, load generators, dev tooling.
DEV_ONLY = {
    "secantusdb",
    "pytest",
    "locust",
    "pos-devstack",
    "pos-loadtest",
    "ruff",
    "mypy",
    "grpcio-tools",
}
# What may follow a non-root USER: a name or uid, optionally :group.
ROOT_USERS = {"root", "0"}
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (what containers must listen on)
BUILD_TOOLS = re.compile(
    r"\b(apt-get|apt|apk|dnf|yum|pip|pip3|uv|gcc|g\+\+|cc|clang|make|build-essential|"
    r"python3-dev|libc6-dev)\b"
)


# --- a small Dockerfile parser -------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def _logical_lines(text: str) -> Iterator[str]:
    """Lines with continuations joined; comment lines dropped (also inside continuations)."""
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and current):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        line = (current + stripped).strip()
        current = ""
        if line:
            yield line
    if current.strip():
        yield current.strip()


def parse_dockerfile(path: Path) -> list[Stage]:
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        keyword, _, arguments = line.partition(" ")
        keyword, arguments = keyword.upper(), arguments.strip()
        if keyword == "FROM":
            words = [w for w in arguments.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append(Stage(base=words[0], name=name))
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, arguments))
        else:
            assert keyword == "ARG", f"{path}: {keyword} before the first FROM"
    return stages


def _flags_and_words(arguments: str) -> tuple[dict[str, str], list[str]]:
    """--flag=value options of COPY/HEALTHCHECK, then the remaining words."""
    flags: dict[str, str] = {}
    words = shlex.split(arguments)
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags[key] = value
    return flags, words


def _env(stage: Stage) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in stage.all("ENV"):
        for word in shlex.split(instruction.arguments):
            key, _, value = word.partition("=")
            values[key] = value
    return values


def _exec_form(arguments: str) -> list[str]:
    parsed = json.loads(arguments)
    assert isinstance(parsed, list), f"not an exec-form (JSON array) command: {arguments}"
    assert all(isinstance(word, str) for word in parsed)
    return [str(word) for word in parsed]


def _uv_syncs(stage: Stage) -> list[list[str]]:
    commands = []
    for instruction in stage.all("RUN"):
        for command in re.split(r"&&|;", instruction.arguments):
            words = shlex.split(command)
            if words[:2] == ["uv", "sync"]:
                commands.append(words)
    return commands


def _option(words: list[str], name: str) -> str | None:
    for index, word in enumerate(words):
        if word == name and index + 1 < len(words):
            return words[index + 1]
        if word.startswith(name + "="):
            return word.partition("=")[2]
    return None


@pytest.fixture(params=SERVICES, ids=SERVICE_IDS)
def service(request: pytest.FixtureRequest) -> Service:
    value: Service = request.param
    return value


def _stages(service: Service) -> list[Stage]:
    assert service.dockerfile.is_file(), f"{service.dockerfile} is missing"
    return parse_dockerfile(service.dockerfile)


def _python_version(base: str) -> str:
    match = re.fullmatch(r"python:(\d+\.\d+\.\d+)-slim(?:-[a-z]+)?", base)
    assert match, f"base {base!r} is not a slim python image pinned to a patch version"
    return match.group(1)


def _workspace_members() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        members: list[str] = tomllib.load(f)["tool"]["uv"]["workspace"]["members"]
    return members


# --- shape -------------------------------------------------------------------------------------


def test_multi_stage_on_one_pinned_slim_python(service: Service) -> None:
    stages = _stages(service)
    assert len(stages) >= 2, "expected a builder stage and a runtime stage"
    bases = {stage.base for stage in stages}
    assert len(bases) == 1, f"every stage must use the same base image, found {sorted(bases)}"
    version = _python_version(bases.pop())
    with (ROOT / service.member / "pyproject.toml").open("rb") as f:
        requires = tomllib.load(f)["project"]["requires-python"]
    assert version in SpecifierSet(requires), f"python {version} outside {requires}"


def test_builder_installs_the_lock_with_pinned_uv(service: Service) -> None:
    *builders, _runtime = _stages(service)
    setup = (ROOT / "scripts/setup.sh").read_text()
    pinned = re.search(r'^UV_VERSION="([^"]+)"', setup, re.MULTILINE)
    assert pinned, "scripts/setup.sh pins UV_VERSION"
    runs = " ".join(i.arguments for stage in builders for i in stage.all("RUN"))
    assert re.search(rf"pip install [^&;]*[\"']?uv=={re.escape(pinned.group(1))}\b", runs), (
        f"the builder must pip install uv=={pinned.group(1)} (the version setup.sh pins)"
    )

    syncs = [words for stage in builders for words in _uv_syncs(stage)]
    assert syncs, "the builder must install dependencies with `uv sync`"
    for words in syncs:
        assert "--frozen" in words or "--locked" in words, f"not from the lock: {words}"
        assert "--no-dev" in words, f"installs dev dependencies: {words}"
        assert _option(words, "--package") == service.package, f"wrong package: {words}"
    assert "--no-editable" in syncs[-1], "the last uv sync must install the code as wheels"

    environment: dict[str, str] = {}
    for stage in builders:
        environment |= _env(stage)
    assert environment.get("UV_PYTHON_DOWNLOADS") == "never"
    assert environment.get("UV_COMPILE_BYTECODE") == "1"
    assert environment.get("UV_LINK_MODE") == "copy"


def test_builder_copies_what_uv_sync_needs_first(service: Service) -> None:
    """uv sync --frozen in a workspace needs every member's pyproject.toml; the sources of
    commons and the service come after the dependency layer (layer caching)."""
    builder = _stages(service)[0]
    copied: set[str] = set()
    first_sync_seen = False
    for instruction in builder.instructions:
        if instruction.keyword == "COPY":
            flags, words = _flags_and_words(instruction.arguments)
            assert "from" not in flags
            *sources, destination = words
            for source in sources:
                copied.add(source.rstrip("/"))
                assert (ROOT / source).exists(), f"COPY {source}: not in the build context"
                if source.endswith("pyproject.toml") and destination not in ("./", "."):
                    assert destination.rstrip("/") in (source, str(Path(source).parent))
        elif (
            instruction.keyword == "RUN"
            and "uv sync" in instruction.arguments
            and not first_sync_seen
        ):
            first_sync_seen = True
            needed = {"pyproject.toml", "uv.lock"} | {
                f"{member}/pyproject.toml" for member in _workspace_members()
            }
            assert needed <= copied, f"missing before uv sync: {sorted(needed - copied)}"
            assert not any(source.endswith("/src") for source in copied), (
                "sources copied before the dependency layer"
            )
            assert "--no-install-workspace" in instruction.arguments
    assert first_sync_seen, "no uv sync in the builder"
    sources_needed = {"services/commons/src", f"{service.member}/src"}
    assert sources_needed <= copied, f"sources not copied: {sorted(sources_needed - copied)}"


def test_runtime_stage_gets_only_the_venv_and_runs_unprivileged(service: Service) -> None:
    stages = _stages(service)
    runtime = stages[-1]
    builder_names = {stage.name for stage in stages[:-1] if stage.name} | {
        str(index) for index in range(len(stages) - 1)
    }
    copies = runtime.all("COPY") + runtime.all("ADD")
    assert copies, "the runtime stage must copy the virtualenv from the builder"
    for instruction in copies:
        assert instruction.keyword == "COPY", "no ADD in the runtime stage"
        flags, words = _flags_and_words(instruction.arguments)
        assert flags.get("from") in builder_names, f"copies from outside the builder: {words}"
        *sources, _destination = words
        assert all(source.rstrip("/").endswith("/.venv") for source in sources), words

    for instruction in runtime.all("RUN"):
        tool = BUILD_TOOLS.search(instruction.arguments)
        assert tool is None, f"runtime stage runs {tool.group(0)!r}: {instruction.arguments}"

    users = runtime.all("USER")
    assert users, "the runtime stage must set a non-root USER"
    user = users[-1].arguments.split(":")[0].strip()
    assert user not in ROOT_USERS, f"USER {user} is root"

    environment = _env(runtime)
    assert environment.get("BIND_HOST") == ALL_INTERFACES
    assert "/app/.venv/bin" in environment.get("PATH", "").split(":")[0]
    exposed = {word for i in runtime.all("EXPOSE") for word in i.arguments.split()}
    assert str(service.port) in exposed


def test_cmd_runs_the_service_module_with_uvloop_and_httptools(service: Service) -> None:
    runtime = _stages(service)[-1]
    assert not runtime.all("ENTRYPOINT")
    commands = runtime.all("CMD")
    assert commands, "the runtime stage needs a CMD"
    assert _exec_form(commands[-1].arguments) == ["python", "-m", service.module]
    # python -m <module> runs uvicorn with uvloop and httptools (what the issue asks for).
    assert _uvicorn_implementations(service) == {"uvloop", "httptools"}


def _uvicorn_implementations(service: Service) -> set[str]:
    """The loop= and http= implementations the service runs uvicorn with (imported by name):
    its __main__ hands the app to pos_commons.lifecycle.serve, which sets them."""
    main = ast.parse((service.source / "__main__.py").read_text())
    called = {
        node.func.id
        for node in ast.walk(main)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert "serve" in called, f"{service.module}.__main__ must run pos_commons.lifecycle.serve"
    tree = ast.parse((COMMONS_SRC / "lifecycle.py").read_text())
    chosen: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "Config"
        ):
            for keyword in node.keywords:
                if keyword.arg in ("loop", "http") and isinstance(keyword.value, ast.Constant):
                    chosen.add(str(keyword.value.value))
    return chosen


# --- HEALTHCHECK, executed against a stand-in server ---------------------------------------------


def _healthcheck_command(service: Service) -> list[str]:
    runtime = _stages(service)[-1]
    checks = runtime.all("HEALTHCHECK")
    assert len(checks) == 1, "the runtime stage needs exactly one HEALTHCHECK"
    flags, _ = _flags_and_words(checks[0].arguments.split(" CMD ", 1)[0] + " CMD")
    assert {"interval", "timeout", "retries"} <= flags.keys()
    _, _, command = checks[0].arguments.partition(" CMD ")
    argv = _exec_form(command.strip())
    assert argv[0] == "python", "the slim image has no curl: the HEALTHCHECK must use python"
    assert "/health" in " ".join(argv)
    return argv


@dataclass
class _Health:
    status: int = 200
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def health_server() -> Iterator[tuple[int, _Health]]:
    state = _Health()

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            state.paths.append(self.path)
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = LoopbackHttpServer(Handler)
    try:
        yield server.port, state
    finally:
        server.stop()


def _run_healthcheck(argv: list[str], environment: dict[str, str]) -> int:
    result = subprocess.run(
        [sys.executable, *argv[1:]],
        env={"PATH": "/usr/bin:/bin", **environment},
        capture_output=True,
        timeout=30,
        check=False,
    )
    return result.returncode


def test_healthcheck_asks_get_health_on_the_service_port(
    service: Service, health_server: tuple[int, _Health]
) -> None:
    argv = _healthcheck_command(service)
    port, state = health_server
    # The default port is the service's; the container environment may move it.
    assert str(service.port) in " ".join(argv)
    assert _run_healthcheck(argv, {service.port_variable: str(port)}) == 0
    assert state.paths == ["/health"]
    state.status = 503
    assert _run_healthcheck(argv, {service.port_variable: str(port)}) != 0


def test_healthcheck_fails_when_nothing_listens(service: Service) -> None:
    argv = _healthcheck_command(service)
    assert _run_healthcheck(argv, {service.port_variable: str(free_port())}) != 0


# --- what the image installs ---------------------------------------------------------------------


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def _lock() -> dict[str, list[dict[str, Any]]]:
    with (ROOT / "uv.lock").open("rb") as f:
        lock = tomllib.load(f)
    packages: dict[str, list[dict[str, Any]]] = {}
    for package in lock["package"]:
        packages.setdefault(_normalize(package["name"]), []).append(package)
    return packages


def _marker_environment(python_version: str) -> dict[str, str]:
    """The image's platform: Linux, CPython <python_version>, this machine's architecture."""
    return {
        "implementation_name": "cpython",
        "implementation_version": python_version,
        "os_name": "posix",
        "platform_machine": platform.machine(),
        "platform_python_implementation": "CPython",
        "platform_system": "Linux",
        "python_full_version": python_version,
        "python_version": ".".join(python_version.split(".")[:2]),
        "sys_platform": "linux",
        "extra": "",
    }


def runtime_closure(package: str, python_version: str) -> set[str]:
    """Normalized names of everything `uv sync --no-dev --package <package>` installs: the
    package's `dependencies` (and requested extras) followed through uv.lock, markers
    evaluated for the image; dev-dependencies are never followed."""
    packages = _lock()
    environment = _marker_environment(python_version)
    installed: set[str] = set()
    visited: set[tuple[str, str | None, str | None]] = set()
    pending: list[tuple[str, str | None, str | None]] = [(_normalize(package), None, None)]
    while pending:
        key = pending.pop()
        if key in visited:
            continue
        visited.add(key)
        name, version, extra = key
        candidates = [p for p in packages.get(name, []) if version in (None, p["version"])]
        assert candidates, f"{name} {version or ''} is not in uv.lock"
        installed.add(name)
        for candidate in candidates:
            if extra is None:
                dependencies = candidate.get("dependencies", [])
            else:
                dependencies = candidate.get("optional-dependencies", {}).get(extra, [])
            for dependency in dependencies:
                marker = dependency.get("marker")
                if marker and not Marker(marker).evaluate(environment):
                    continue
                dependency_name = _normalize(dependency["name"])
                dependency_version = dependency.get("version")
                pending.append((dependency_name, dependency_version, None))
                for wanted in dependency.get("extra", []):
                    pending.append((dependency_name, dependency_version, wanted))
    return installed


def _workspace_import_names() -> dict[str, str]:
    """Import name -> distribution of the workspace members (editable installs are not in
    packages_distributions()); from each member's wheel `packages`."""
    names: dict[str, str] = {}
    for versions in _lock().values():
        for package in versions:
            source = package.get("source", {})
            path = source.get("editable") or source.get("virtual")
            if path is None:
                continue
            pyproject = ROOT / path / "pyproject.toml"
            with pyproject.open("rb") as f:
                project = tomllib.load(f)
            wheel = project.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {})
            for entry in wheel.get("wheel", {}).get("packages", []):
                names[Path(entry).name] = _normalize(package["name"])
    return names


def imported_top_level_modules(*packages: Path) -> set[str]:
    """Absolute imports of every module under `packages`, top-level names, stdlib excluded."""
    modules: set[str] = set()
    for directory in packages:
        for path in sorted(directory.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    return {m for m in modules if m != "__future__" and m not in sys.stdlib_module_names}


def _image_package(service: Service) -> str:
    *builders, _ = _stages(service)
    packages = {_option(words, "--package") for stage in builders for words in _uv_syncs(stage)}
    assert len(packages) == 1, f"the builder syncs {packages}"
    package = packages.pop()
    assert package is not None
    return package


def not_installed(modules: set[str], closure: set[str]) -> dict[str, list[str]]:
    """The modules no distribution of `closure` provides, with the distributions that do."""
    by_import = importlib.metadata.packages_distributions()
    workspace = _workspace_import_names()
    missing: dict[str, list[str]] = {}
    for module in sorted(modules):
        if module in workspace:
            distributions = [workspace[module]]
        else:
            distributions = [_normalize(d) for d in by_import.get(module, [])]
        assert distributions, f"import {module!r}: no installed distribution provides it"
        if not closure & set(distributions):
            missing[module] = distributions
    return missing


def test_every_runtime_import_is_installed(service: Service) -> None:
    stages = _stages(service)
    closure = runtime_closure(_image_package(service), _python_version(stages[0].base))
    modules = imported_top_level_modules(service.source, COMMONS_SRC)
    # Imported by uvicorn by name: run(loop="uvloop", http="httptools").
    modules |= _uvicorn_implementations(service)
    assert {service.module, "pos_commons", "fastapi", "grpc"} <= modules  # the scan works

    missing = not_installed(modules, closure)
    assert not missing, (
        f"imported by {service.module} or pos_commons but not installed by "
        f"`uv sync --no-dev --package {service.package}` (add them to the dependencies of "
        f"{service.package} or pos-commons): {missing}"
    )


def test_the_import_check_notices_a_missing_dependency() -> None:
    """Negative control: cart's imports against what pos-commons alone would install."""
    cart = SERVICES[1]
    modules = imported_top_level_modules(cart.source) | _uvicorn_implementations(cart)
    missing = not_installed(modules, runtime_closure("pos-commons", "3.11.13"))
    assert {"cart", "tenacity"} <= missing.keys()
    assert "fastapi" not in missing
    assert "uvloop" not in missing


def _module_imports(path: Path, module: str) -> set[str]:
    """Dotted names the module `module` (at `path`) imports, relative imports resolved; for
    `from a import b` both `a` and `a.b` (b may be a submodule)."""
    names: set[str] = set()
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package[: len(package) - (node.level - 1)]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return {name for name in names if name and name.split(".")[0] != "__future__"}


def _commons_file(module: str) -> Path | None:
    """The source file of a pos_commons module or package, None for an attribute's name."""
    location = COMMONS_SRC.parent.joinpath(*module.split("."))
    for path in (location.parent / f"{location.name}.py", location / "__init__.py"):
        if path.is_file():
            return path
    return None


def _run_modules(service: Service) -> set[str]:
    """The modules the image runs with `python -m`: CMD's and HEALTHCHECK's."""
    runtime = _stages(service)[-1]
    commands = [_exec_form(i.arguments) for i in runtime.all("CMD")]
    commands.append(_healthcheck_command(service))
    return {argv[argv.index("-m") + 1] for argv in commands if "-m" in argv[:-1]}


def imports_of_the_image(service: Service) -> set[str]:
    """Every dotted name imported by what the image runs: all of the service's own modules,
    the modules its Dockerfile runs with `python -m`, and, followed from them transitively,
    the pos_commons modules (and their packages) they import; not the rest of pos_commons."""
    pending = [
        (".".join(path.relative_to(service.source.parent).with_suffix("").parts), path)
        for path in sorted(service.source.rglob("*.py"))
    ]
    pending = [(name.removesuffix(".__init__"), path) for name, path in pending]
    for module in _run_modules(service) - {service.module}:
        path = _commons_file(module)
        assert path is not None, f"the image runs {module}, which is not in pos_commons"
        pending.append((module, path))
    seen: set[Path] = set()
    imported = _run_modules(service)
    while pending:
        module, path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _module_imports(path, module):
            imported.add(name)
            parts = name.split(".")
            if parts[0] != "pos_commons":
                continue
            for length in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b too
                prefix = ".".join(parts[:length])
                found = _commons_file(prefix)
                if found is not None:
                    pending.append((prefix, found))
    return imported


@functools.cache
def _distributions_by_import() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _providers(module: str) -> list[str]:
    """The installed distributions that provide `module`: of those that provide its top-level
    name, for a namespace package (google.*) only those with the module's own files."""
    top = module.split(".")[0]
    candidates = [_normalize(d) for d in _distributions_by_import().get(top, [])]
    assert candidates, f"import {module!r}: no installed distribution provides it"
    if len(candidates) == 1:
        return candidates
    parts = module.split(".")
    for length in range(len(parts), 1, -1):
        stem = "/".join(parts[:length])
        narrowed = [
            candidate
            for candidate in candidates
            if any(
                str(file) == f"{stem}.py" or str(file).startswith(f"{stem}/")
                for file in importlib.metadata.distribution(candidate).files or ()
            )
        ]
        if narrowed:
            return narrowed
    return candidates


def needed_distributions(modules: set[str], python_version: str) -> set[str]:
    """The distributions `modules` need at run time: each one's provider and, through uv.lock,
    the provider's dependencies (a workspace member counts alone: its own dependencies are
    what is being checked)."""
    workspace = _workspace_import_names()
    providers: set[str] = set()
    needed: set[str] = set()
    for module in modules:
        top = module.split(".")[0]
        if top in sys.stdlib_module_names:
            continue
        if top in workspace:
            needed.add(workspace[top])
        else:
            providers.update(_providers(module))
    for provider in providers:
        needed |= runtime_closure(provider, python_version)
    return needed


def not_needed(closure: set[str], needed: set[str]) -> dict[str, list[str]]:
    """The distributions of `closure` nothing in `needed` accounts for, each with the ones of
    `closure` that depend on it (where the requirement comes from)."""
    surplus = closure - needed
    required_by: dict[str, list[str]] = {name: [] for name in sorted(surplus)}
    for name in sorted(closure):
        for package in _lock()[name]:
            for dependency in package.get("dependencies", []):
                dependency_name = _normalize(dependency["name"])
                if dependency_name in required_by and name not in required_by[dependency_name]:
                    required_by[dependency_name].append(name)
    return required_by


def test_every_installed_distribution_is_needed(service: Service) -> None:
    python_version = _python_version(_stages(service)[0].base)
    closure = runtime_closure(_image_package(service), python_version)
    modules = imports_of_the_image(service) | _uvicorn_implementations(service)
    assert "pos_commons.healthcheck" in modules  # the HEALTHCHECK's module is followed
    needed = needed_distributions(modules, python_version)
    # The scan works: protobuf is only reached through pos_commons.grpc_stubs.
    assert {service.package, "pos-commons", "fastapi", "protobuf", "uvloop"} <= needed

    surplus = not_needed(closure, needed)
    assert not surplus, (
        f"`uv sync --no-dev --package {service.package}` installs distributions that neither "
        f"{service.module} nor the pos_commons modules it imports need, directly or as a "
        f"dependency (name: what requires it; move the requirement to the service that "
        f"imports it): {surplus}"
    )


def test_the_installed_check_notices_a_distribution_nothing_needs() -> None:
    """Negative control: master-data's image with httpx added, as when a client library sits
    in pos-commons' dependencies while only cart imports it."""
    master_data = SERVICES[0]
    python_version = "3.11.13"
    closure = runtime_closure(master_data.package, python_version)
    assert "httpx" not in closure
    closure |= runtime_closure("httpx", python_version)
    modules = imports_of_the_image(master_data) | _uvicorn_implementations(master_data)
    surplus = not_needed(closure, needed_distributions(modules, python_version))
    # (certifi is needed anyway: requests, under the OTLP trace exporter, uses it.)
    assert {"httpx", "httpcore"} <= surplus.keys()
    assert surplus["httpcore"] == ["httpx"]
    assert "anyio" not in surplus  # httpx needs it, but so does starlette


def test_a_namespace_package_maps_to_the_distribution_with_the_module() -> None:
    """zope.* comes from several distributions (here with locust's gevent), as google.* may."""
    assert _providers("zope.interface.declarations") == ["zope-interface"]
    assert _providers("zope.event") == ["zope-event"]
    assert _providers("google.protobuf.descriptor") == ["protobuf"]


def test_no_test_or_dev_packages_in_the_image(service: Service) -> None:
    closure = runtime_closure(_image_package(service), _python_version(_stages(service)[0].base))
    assert {"pos-commons", service.package} <= closure
    assert not closure & DEV_ONLY, f"dev-only packages installed: {sorted(closure & DEV_ONLY)}"


def test_closure_follows_extras_and_markers() -> None:
    """The closure computation itself, on a package of the lock with both."""
    closure = runtime_closure("locust", "3.11.13")
    assert {"python-socketio", "requests", "websocket-client"} <= closure  # socketio[client]
    assert "pywin32" not in closure  # sys_platform == 'win32'


# --- .dockerignore -----------------------------------------------------------------------------


def _dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "exceptions are not handled here"
    return [p.strip("/") for p in patterns]


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    regex = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            regex += "(?:.*/)?"
            index += 3
        elif pattern.startswith("**", index):
            regex += ".*"
            index += 2
        elif pattern[index] == "*":
            regex += "[^/]*"
            index += 1
        elif pattern[index] == "?":
            regex += "[^/]"
            index += 1
        else:
            regex += re.escape(pattern[index])
            index += 1
    return re.compile(regex)


def is_ignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves `path` (relative to the context) out: a pattern matches it or
    one of its parent directories."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return any(_pattern_regex(p).fullmatch(prefix) for p in patterns for prefix in prefixes)


def test_dockerignore_keeps_the_context_small() -> None:
    patterns = _dockerignore_patterns()
    for path in (
        ".venv",
        ".data",
        ".git",
        ".env",
        "secrets",
        "secrets/admin_token",
        "tests",
        "tests/deploy/sample.env",
        "loadtest/reports",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        "services/cart/src/cart/__pycache__",
    ):
        assert is_ignored(path, patterns), f"{path} is sent to the Docker build context"


def test_dockerignore_keeps_what_the_dockerfiles_copy(service: Service) -> None:
    patterns = _dockerignore_patterns()
    for stage in _stages(service):
        for instruction in stage.all("COPY"):
            flags, words = _flags_and_words(instruction.arguments)
            if "from" in flags:
                continue
            for source in words[:-1]:
                assert not is_ignored(source, patterns), f"{source} is in .dockerignore"
                directory = ROOT / source
                if directory.is_dir():
                    for path in directory.rglob("*.py"):
                        relative = path.relative_to(ROOT).as_posix()
                        if "__pycache__" not in relative:
                            assert not is_ignored(relative, patterns), relative
