"""The documentation stays true to the code: every setting is documented with its default."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from enum import Enum
from pathlib import Path

import pytest
from pos_cli.settings import CliSettings
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from cart.settings import CartSettings
from master_data.settings import MasterDataSettings
from pos_devstack.paths import REPO_ROOT

CONFIGURATION = REPO_ROOT / "docs" / "configuration.md"
LOADTEST_README = REPO_ROOT / "loadtest" / "README.md"
LINKED_DOCS = (
    "docs/architecture.md",
    "docs/configuration.md",
    "docs/api.md",
    "docs/performance.md",
    "docs/deploy.md",
    "docs/operators.md",
    "docs/comparison/summary.md",
)


def _default(value: object) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, Enum):
        value = value.value
    return "(none)" if value is None else f"`{value}`"


@pytest.mark.parametrize("settings", [MasterDataSettings, CartSettings])
def test_every_setting_is_documented_with_its_default(settings: type[BaseSettings]) -> None:
    rows = {
        line.split("|")[1].strip(): line.split("|")[2].strip()
        for line in CONFIGURATION.read_text().splitlines()
        if line.startswith("| `")
    }
    for name, field in settings.model_fields.items():
        variable = f"`{name.upper()}`"
        assert variable in rows, f"{variable} is not in {CONFIGURATION.name}"
        assert rows[variable] == _default(field.default), variable


def test_every_posctl_setting_is_documented_for_operators() -> None:
    operators = (REPO_ROOT / "docs" / "operators.md").read_text()
    for name in CliSettings.model_fields:
        if not name.endswith("_file"):
            assert f"`POSCTL_{name.upper()}`" in operators, name


def test_every_tracing_variable_the_code_names_is_documented() -> None:
    """The OTEL_* variables are read by the OpenTelemetry SDK, not by pydantic: those the
    tracing code names (its docstrings say what each does) have a row."""
    rows = {
        line.split("|")[1].strip()
        for line in CONFIGURATION.read_text().splitlines()
        if line.startswith("| `")
    }
    commons = REPO_ROOT / "services/commons/src/pos_commons"
    named = {
        name
        for module in ("tracing.py", "instrumentation.py")
        for name in re.findall(r"\bOTEL_[A-Z_]+[A-Z]\b", (commons / module).read_text())
    }
    assert named, "the tracing code names no OTEL_* variable"
    missing = sorted(name for name in named if f"`{name}`" not in rows)
    assert not missing, f"not in {CONFIGURATION.name}: {missing}"


def test_readme_starts_with_the_two_commands() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "scripts/start.sh" in first_block
    assert "scripts/test.sh" in first_block
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "exec scripts/test.sh" in ci


def test_documents_linked_from_the_readme_exist() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    for name in LINKED_DOCS:
        assert name in readme, name
        assert (REPO_ROOT / name).exists(), name


def test_no_doc_points_at_a_missing_repository_file() -> None:
    for doc in [REPO_ROOT / "README.md", *(REPO_ROOT / "docs").glob("*.md")]:
        for word in doc.read_text().replace("(", " ").replace(")", " ").split():
            candidate = word.strip("`*,.:;'\"")
            if candidate.startswith(("scripts/", "services/", "loadtest/", "tests/", "docs/")):
                path = Path(REPO_ROOT / candidate.split("#")[0])
                assert path.exists() or "*" in candidate or "<" in candidate, (doc.name, candidate)


def _loadtest_commands() -> dict[str, str]:
    project = tomllib.loads((REPO_ROOT / "loadtest" / "pyproject.toml").read_text())
    scripts: dict[str, str] = project["project"]["scripts"]
    return scripts


def _docs_and_wrappers() -> list[Path]:
    return [
        REPO_ROOT / "README.md",
        LOADTEST_README,
        *(REPO_ROOT / "docs").glob("*.md"),
        *(REPO_ROOT / "scripts").glob("*.sh"),
    ]


def test_every_loadtest_command_named_exists_and_runs_a_module() -> None:
    commands = _loadtest_commands()
    for path in _docs_and_wrappers():
        for command in re.findall(r"\.venv/bin/(pos-[a-z-]+)", path.read_text()):
            assert command in commands, (str(path.relative_to(REPO_ROOT)), command)
        for module in re.findall(r"python -m (pos_loadtest(?:\.\w+)*)", path.read_text()):
            assert importlib.util.find_spec(module) is not None, (
                str(path.relative_to(REPO_ROOT)),
                module,
            )
    for command, target in commands.items():
        module, _, function = target.partition(":")
        assert importlib.util.find_spec(module) is not None, command
        assert function == "main", command


def test_the_loadtest_readme_maps_every_command_to_its_module() -> None:
    rows = {
        command: module
        for command, module in re.findall(
            r"^\| `(pos-[a-z-]+)` \|[^|]*\| `([\w.]+)` \|", LOADTEST_README.read_text(), re.M
        )
    }
    assert rows == {
        command: target.removeprefix("pos_loadtest.").partition(":")[0]
        for command, target in _loadtest_commands().items()
    }
