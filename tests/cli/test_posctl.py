"""posctl against the running pair: tenants, stores, catalog import and export in bulk, and
terminal keys, through the services' admin APIs. Commands run in-process (typer's runner, the
real command code and real HTTP); one runs as the installed console script."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from pos_cli.main import app
from typer.testing import CliRunner

from pos_devstack.stack import CartProcess
from tests.support import Stack, data

RUNNER = CliRunner()


@pytest.fixture
def env(stack: Stack, cart_http: CartProcess) -> dict[str, str]:
    return {
        "POSCTL_MASTER_DATA_URL": stack.master_data.url,
        "POSCTL_MASTER_DATA_TOKEN": stack.tokens.admin,
        "POSCTL_CART_URL": cart_http.url,
        "POSCTL_CART_TOKEN": stack.tokens.cart_admin,
    }


def posctl(env: dict[str, str], *args: str, code: int = 0) -> Any:
    result = RUNNER.invoke(app, list(args), env=env)
    assert result.exit_code == code, f"{args}: {result.exit_code}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def tenant(env: dict[str, str]) -> str:
    tenant_id = f"cli{uuid.uuid4().hex[:10]}"
    created = json.loads(posctl(env, "tenant", "create", tenant_id, "--name", "CLI").stdout)
    assert created["tenantId"] == tenant_id
    posctl(env, "store", "add", "-t", tenant_id, "S1", "--name", "Store one")
    return tenant_id


def _catalog(items: int) -> dict[str, list[dict[str, Any]]]:
    """A generated catalog: rows as `catalog export` writes them (CSV cells as text)."""
    categories = [{"categoryCode": f"C{n}", "name": f"Category {n}", "description": ""}
                  for n in range(5)]  # fmt: skip
    tax_rules = [{"taxCode": "HALF", "name": "Half rate", "taxType": "external", "rate": "5",
                  "roundingDigits": "2", "roundingMethod": "halfUp"}]  # fmt: skip
    methods = [{"paymentCode": "CASH", "name": "Cash", "canGiveChange": "true",
                "canExceedBalance": "true", "isActive": "true"}]  # fmt: skip
    rows = [{"itemCode": f"I{n:06d}", "description": f"Item {n}, \"quoted\"",
             "shortDescription": f"I{n}", "unitPrice": f"{1 + n % 97}.{n % 100:02d}",
             "categoryCode": f"C{n % 5}", "taxCode": ("HALF", "STD", "EXM")[n % 3],
             "isDiscountRestricted": "true" if n % 10 == 0 else "false"}
            for n in range(items)]  # fmt: skip
    prices = [{"storeCode": "S1", "itemCode": row["itemCode"], "price": "0.50"}
              for row in rows[::4]]  # fmt: skip
    return {"categories": categories, "taxRules": tax_rules, "paymentMethods": methods,
            "items": rows, "storePrices": prices}  # fmt: skip


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _summary(result: Any) -> str:
    return str(result.stdout.strip().splitlines()[-1])


def test_a_catalog_imported_exports_the_same_and_imports_again_unchanged(
    env: dict[str, str], tenant: str, tmp_path: Path
) -> None:
    catalog = _catalog(2_500)
    order = ("taxRules", "categories", "paymentMethods", "items", "storePrices")
    for kind in order:
        rows = catalog[kind]
        file = (_write_jsonl(tmp_path / f"{kind}.jsonl", rows) if kind == "items"
                else _write_csv(tmp_path / f"{kind}.csv", rows))  # fmt: skip
        result = posctl(env, "catalog", "import", kind, str(file), "-t", tenant)
        assert (
            _summary(result) == f"{kind}: {len(rows)} created, 0 updated, 0 unchanged, 0 rejected"
        )

    for kind in order:
        exported = tmp_path / f"exported-{kind}.csv"
        posctl(env, "catalog", "export", kind, "-t", tenant, "-o", str(exported))
        with exported.open(encoding="utf-8") as source:
            rows = list(csv.DictReader(source))
        expected = catalog[kind]
        if kind == "taxRules":  # every tenant starts with four rules of its own
            rows = [row for row in rows if row["taxCode"] == "HALF"]
        if kind in ("items", "storePrices"):  # exports are in key order, as generated
            assert [row["itemCode"] for row in rows] == [row["itemCode"] for row in expected]
        assert len(rows) == len(expected)
        again = posctl(env, "catalog", "import", kind, str(exported), "-t", tenant)
        assert ", 0 created, 0 updated," in f", {_summary(again).split(': ', 1)[1]}"
        assert _summary(again).endswith(" unchanged, 0 rejected")
    jsonl = tmp_path / "items-again.jsonl"
    posctl(env, "catalog", "export", "items", "-t", tenant, "-o", str(jsonl))
    again = posctl(env, "catalog", "import", "items", str(jsonl), "-t", tenant)
    assert _summary(again) == "items: 0 created, 0 updated, 2500 unchanged, 0 rejected"


def test_batches_in_flight_are_answered_in_file_order(
    env: dict[str, str], tenant: str, tmp_path: Path
) -> None:
    # One row a batch: a batch's answer is taken while the next is already under way (and the
    # file's own problems of that next batch found), yet each problem names its own line and
    # they are listed in the file's order.
    categories = _write_csv(tmp_path / "categories.csv", [{"categoryCode": "C1", "name": "One"}])
    posctl(env, "catalog", "import", "categories", str(categories), "-t", tenant)
    file = tmp_path / "items.csv"
    file.write_text(
        "itemCode,description,unitPrice,categoryCode,taxCode\n"
        "INFLIGHT1,One,1.00,C1,STD\n"  # line 2
        "INFLIGHT2,Unknown tax,1.00,C1,NOPE\n"  # 3
        "INFLIGHT1,The same code again,2.00,C1,STD\n"  # 4
        "INFLIGHT3,Three,3.00,C1,STD\n"  # 5
        "INFLIGHT4,Bad money,1.2.3,C1,STD\n",  # 6
        encoding="utf-8",
    )
    done = posctl(env, "catalog", "import", "items", str(file), "-t", tenant,
                  "--batch-rows", "1", code=1)  # fmt: skip
    problems = [line for line in done.stderr.splitlines() if line.lstrip().startswith("line ")]
    assert [problem.split(":")[0].strip() for problem in problems] == [
        "line 3, column taxCode",
        "line 4, column itemCode",
        "line 6, column unitPrice",
    ], done.stderr
    assert _summary(done) == "items: 2 created, 0 updated, 0 unchanged, 3 rejected"


def test_bad_rows_are_each_reported_with_line_and_column_and_only_good_rows_are_written(
    env: dict[str, str], tenant: str, tmp_path: Path
) -> None:
    categories = _write_csv(tmp_path / "categories.csv", [{"categoryCode": "C1", "name": "One"}])
    posctl(env, "catalog", "import", "categories", str(categories), "-t", tenant)
    header = "itemCode,description,unitPrice,categoryCode,taxCode\n"
    lines = [
        "GOOD1,Good one,1.00,C1,STD\n",  # line 2
        "BADTAX,Unknown tax,1.00,C1,NOPE\n",  # 3
        "BADMONEY,Malformed money,1.2.3,C1,STD\n",  # 4
        "GOOD1,The same code again,2.00,C1,STD\n",  # 5
        "SHORT,Missing a cell,1.00,C1\n",  # 6
        "GOOD2,Good two,2.00,C1,STD\n",  # 7
    ]
    file = tmp_path / "items.csv"
    file.write_bytes((header + "".join(lines)).encode() + b"LATIN,Caf\xe9,1.00,C1,STD\n")  # 8
    dry = posctl(env, "catalog", "import", "items", str(file), "-t", tenant, "--dry-run", code=1)
    reported = dry.stderr
    for expected in (
        "line 3, column taxCode: UNKNOWN_TAX_CODE",
        "line 4, column unitPrice: VALIDATION_FAILED",
        "line 5, column itemCode: DUPLICATE_ROW: GOOD1 is on line 2 already",
        "line 6: UNREADABLE: has 4 cells; the header has 5",
        "line 8: UNREADABLE: not UTF-8: byte 0xe9",
    ):
        assert expected in reported, reported
    assert _summary(dry) == (
        "items: dry run, nothing written: "
        "2 would be created, 0 would be updated, 0 unchanged, 5 rejected"
    )
    export = posctl(env, "catalog", "export", "items", "-t", tenant)
    assert export.stdout.splitlines()[1:] == []

    done = posctl(env, "catalog", "import", "items", str(file), "-t", tenant, code=1)
    assert _summary(done) == "items: 2 created, 0 updated, 0 unchanged, 5 rejected"
    export = posctl(env, "catalog", "export", "items", "-t", tenant)
    assert [row.split(",")[0] for row in export.stdout.splitlines()[1:]] == ["GOOD1", "GOOD2"]
    again = posctl(env, "catalog", "import", "items", str(file), "-t", tenant, code=1)
    assert _summary(again) == "items: 0 created, 0 updated, 2 unchanged, 5 rejected"


def test_tokens_come_from_the_environment_or_files_and_a_wrong_one_is_said_clearly(
    env: dict[str, str], stack: Stack, tmp_path: Path
) -> None:
    missing = {**env, "POSCTL_MASTER_DATA_TOKEN": ""}
    result = posctl(missing, "tenant", "list", code=1)
    assert "No token for master-data: set POSCTL_MASTER_DATA_TOKEN" in result.stderr
    wrong = posctl({**env, "POSCTL_MASTER_DATA_TOKEN": "not-the-token"}, "tenant", "list", code=1)
    assert "401" in wrong.stderr
    assert "check POSCTL_MASTER_DATA_TOKEN" in wrong.stderr
    assert "not-the-token" not in wrong.stderr + wrong.stdout
    reader = posctl({**env, "POSCTL_MASTER_DATA_TOKEN": stack.tokens.service}, "tenant", "list",
                    code=1)  # fmt: skip
    assert "403" in reader.stderr
    token_file = tmp_path / "token"
    token_file.write_text(stack.tokens.admin + "\n")
    from_file = {**missing, "POSCTL_MASTER_DATA_TOKEN_FILE": str(token_file)}
    assert isinstance(json.loads(posctl(from_file, "tenant", "list").stdout), list)
    both = {**env, "POSCTL_MASTER_DATA_TOKEN_FILE": str(token_file)}
    assert "not both" in posctl(both, "tenant", "list", code=1).stderr
    away = posctl({**env, "POSCTL_MASTER_DATA_URL": "http://127.0.0.1:9"}, "tenant", "list",
                  code=1)  # fmt: skip
    assert "cannot be reached" in away.stderr


async def test_terminal_keys_registered_rotated_revoked_and_an_import_reaches_cart(
    env: dict[str, str], tenant: str, tmp_path: Path, cart_http: CartProcess
) -> None:
    catalog = _catalog(10)
    for kind in ("taxRules", "categories", "paymentMethods", "items"):
        posctl(env, "catalog", "import", kind,
               str(_write_csv(tmp_path / f"{kind}.csv", catalog[kind])), "-t", tenant)  # fmt: skip
    registered = posctl(env, "terminal", "register", "-t", tenant, "-s", "S1", "-n", "3")
    key = registered.stdout.strip()
    assert key.startswith("pos_")
    listed = json.loads(posctl(env, "terminal", "list", "-t", tenant).stdout)
    assert [t["terminalNo"] for t in listed] == [3]
    assert key not in json.dumps(listed)
    terminal_id = listed[0]["terminalId"]

    async with httpx.AsyncClient(base_url=f"{cart_http.url}/api/v1", timeout=10) as client:

        async def scan(api_key: str) -> httpx.Response:
            cart = await client.post("/carts", headers={"X-API-Key": api_key})
            if cart.status_code != 201:
                return cart
            cart_id = cart.json()["data"]["cartId"]
            return await client.post(f"/carts/{cart_id}/lineItems", headers={"X-API-Key": api_key},
                                     json=[{"itemCode": "I000001"}])  # fmt: skip

        assert data(await scan(key))["lines"][0]["unitPrice"] == "2.01"
        # A price changed by an import reaches cart like any other change (its catalog feed).
        changed = [{**catalog["items"][1], "unitPrice": "7.77"}]
        change = _write_csv(tmp_path / "change.csv", changed)
        result = posctl(env, "catalog", "import", "items", str(change), "-t", tenant)
        assert _summary(result) == "items: 0 created, 1 updated, 0 unchanged, 0 rejected"
        for _ in range(50):
            if data(await scan(key))["lines"][0]["unitPrice"] == "7.77":
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("cart kept the old price")

        rotated = posctl(env, "terminal", "rotate-key", terminal_id).stdout.strip()
        assert rotated != key
        assert (await scan(key)).status_code == 401
        assert (await scan(rotated)).status_code == 200
        posctl(env, "terminal", "revoke", terminal_id)
        assert (await scan(rotated)).status_code == 401


def test_the_installed_console_script_runs(env: dict[str, str], tenant: str) -> None:
    posctl_path = Path(os.__file__).parents[2] / "bin" / "posctl"
    if not posctl_path.exists():  # the venv's interpreter may be a link elsewhere
        posctl_path = Path(__file__).parents[2] / ".venv" / "bin" / "posctl"
    done = subprocess.run(
        [str(posctl_path), "tenant", "show", tenant], env={**os.environ, **env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tenantId"] == tenant
    assert (
        "catalog"
        in subprocess.run(
            [str(posctl_path), "--help"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
    )
