"""The contract's hygiene: buf lint passes and the committed stubs are what the script makes."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

from pos_devstack.protogen import PROTO_ROOT, STUBS_DIR, generate


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
    for path in STUBS_DIR.rglob("*.py*"):
        text = path.read_text()
        assert "\nfrom pos.masterdata" not in text, path
        assert "\nimport pos.masterdata" not in text, path


def test_buf_lint_is_clean() -> None:
    buf = Path(sys.executable).parent / "buf"
    result = subprocess.run(
        [str(buf), "lint"], cwd=PROTO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
