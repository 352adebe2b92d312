"""The contract's hygiene: buf lint passes, nothing breaks the released contract, and the
committed stubs are what the script makes."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

from pos_devstack.protogen import PROTO_ROOT, RELEASED_IMAGE, STUBS_DIR, buf, generate


def test_committed_stubs_match_the_protos(tmp_path: Path) -> None:
    fresh = tmp_path / "grpc_stubs"
    generated = {path.relative_to(fresh) for path in generate(fresh)}
    committed = {
        path.relative_to(STUBS_DIR)
        for path in STUBS_DIR.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert generated == committed, "stale stubs: run scripts/gen_protos.sh"
    stale = [
        str(name)
        for name in sorted(generated)
        if not filecmp.cmp(fresh / name, STUBS_DIR / name, shallow=False)
    ]
    assert stale == [], f"stale stubs {stale}: run scripts/gen_protos.sh"


def test_stub_imports_stay_inside_the_package() -> None:
    for path in [*STUBS_DIR.rglob("*.py"), *STUBS_DIR.rglob("*.pyi")]:
        text = path.read_text()
        assert "\nfrom pos.masterdata" not in text, path
        assert "\nimport pos.masterdata" not in text, path


def test_buf_lint_is_clean() -> None:
    result = subprocess.run(
        [str(buf()), "lint"], cwd=PROTO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _breaking(protos: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(buf()), "breaking", str(protos), "--against", str(RELEASED_IMAGE)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_nothing_breaks_the_released_contract() -> None:
    result = _breaking(PROTO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_notices_a_renumbered_or_retyped_field(tmp_path: Path) -> None:
    """Negative control, on a copy: what a careless edit would do to ItemDetail."""
    source = PROTO_ROOT / "pos/masterdata/v1/item_service.proto"
    for old, new in (("string effective_price = 9;", "string effective_price = 99;"),
                     ("string effective_price = 9;", "double effective_price = 9;")):  # fmt: skip
        copy = tmp_path / new.replace(" ", "_")
        shutil.copytree(PROTO_ROOT, copy, ignore=shutil.ignore_patterns("*.json"))
        target = copy / source.relative_to(PROTO_ROOT)
        assert old in target.read_text(), "the control's proto line moved: update it"
        target.write_text(target.read_text().replace(old, new))
        result = _breaking(copy)
        assert result.returncode != 0, new
        assert "effective_price" in result.stdout, result.stdout
