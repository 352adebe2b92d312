"""posctl: tenants, stores, the catalog in bulk and terminal keys, through the services' admin
APIs (never the database). Tokens and URLs come from the environment (docs/operators.md)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeElapsedColumn

from master_data.api.bulk import BulkKind
from pos_cli import operations
from pos_cli.client import AdminClient, CliError
from pos_cli.files import FileFormat, write
from pos_cli.importer import DEFAULT_BATCH_ROWS, import_file
from pos_cli.kinds import kind as kind_of
from pos_cli.settings import CliSettings

app = typer.Typer(name="posctl", help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False)
tenant_app = typer.Typer(help="Tenants (master-data).", no_args_is_help=True)
store_app = typer.Typer(help="A tenant's stores (master-data).", no_args_is_help=True)
catalog_app = typer.Typer(
    help="The catalog in bulk: import, export, templates.", no_args_is_help=True
)
terminal_app = typer.Typer(help="Terminals and their API keys (cart).", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(store_app, name="store")
app.add_typer(catalog_app, name="catalog")
app.add_typer(terminal_app, name="terminal")

err = Console(stderr=True, soft_wrap=True)  # a line per message: grep-able
T = TypeVar("T")

Tenant = Annotated[str, typer.Option("--tenant", "-t", help="The tenant id.")]
Kind = Annotated[BulkKind, typer.Argument(help="The kind of record.")]
Format = Annotated[
    FileFormat | None,
    typer.Option("--format", "-f", help="csv or jsonl (default: from the file's name; csv)."),
]


def _settings() -> CliSettings:
    try:
        return CliSettings()
    except ValidationError as exc:
        raise CliError(f"settings: {exc.errors()[0]['msg']}") from None


def _master_data() -> AdminClient:
    settings = _settings()
    return AdminClient("master-data", settings.master_data_url, settings.master_data_token,
                       "POSCTL_MASTER_DATA_TOKEN", settings.timeout_seconds)  # fmt: skip


def _cart() -> AdminClient:
    settings = _settings()
    return AdminClient("cart", settings.cart_url, settings.cart_token, "POSCTL_CART_TOKEN",
                       settings.timeout_seconds)  # fmt: skip


@contextmanager
def _reported() -> Iterator[None]:
    """A CliError ends the command with its message and status 1; no traceback."""
    try:
        yield
    except CliError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from None


def _run(client_of: Callable[[], AdminClient], work: Callable[[AdminClient], T]) -> T:
    with _reported(), client_of() as client:
        return work(client)


def _show(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


# -- tenants and stores ----------------------------------------------------------------------


@tenant_app.command("create")
def tenant_create(
    tenant_id: Annotated[str, typer.Argument(help="The new tenant's id.")],
    name: Annotated[str, typer.Option(help="Its name.")],
) -> None:
    """Create a tenant (its database, indexes and default tax rules)."""
    _show(_run(_master_data, lambda c: operations.create_tenant(c, tenant_id, name)))


@tenant_app.command("list")
def tenant_list() -> None:
    """List the tenants."""
    _show(_run(_master_data, lambda c: c.call("GET", "/api/v1/tenants")))


@tenant_app.command("show")
def tenant_show(tenant_id: Annotated[str, typer.Argument(help="The tenant's id.")]) -> None:
    """Show a tenant."""
    _show(_run(_master_data, lambda c: c.call("GET", f"/api/v1/tenants/{tenant_id}")))


@store_app.command("add")
def store_add(
    tenant: Tenant,
    store_code: Annotated[str, typer.Argument(help="The store's code.")],
    name: Annotated[str, typer.Option(help="Its name.")],
) -> None:
    """Add a store to a tenant."""
    _show(_run(_master_data, lambda c: operations.add_store(c, tenant, store_code, name)))


@store_app.command("list")
def store_list(tenant: Tenant) -> None:
    """List a tenant's stores."""
    path = f"/api/v1/tenants/{tenant}/stores"
    _show(_run(_master_data, lambda c: _all_pages(c, path)))


def _all_pages(client: AdminClient, path: str) -> list[Any]:
    found: list[Any] = []
    page = 1
    while True:
        batch = client.call("GET", path, params={"page": page, "limit": 200})
        found += batch
        if len(batch) < 200:
            return found
        page += 1


# -- the catalog -----------------------------------------------------------------------------


@catalog_app.command("template")
def catalog_template(
    kind: Kind,
    file_format: Annotated[FileFormat, typer.Option("--format", "-f")] = FileFormat.CSV,
) -> None:
    """Print a file of KIND with its columns and an example row; the columns, described, on
    stderr."""
    spec = kind_of(kind)
    write(sys.stdout, file_format, spec, spec.examples)
    for column in spec.columns:
        need = "required" if column.required else "optional"
        err.print(f"{column.name:24} {need:9} {column.json_type or 'text':8} {column.description}",
                  highlight=False)  # fmt: skip


@catalog_app.command("import")
def catalog_import(
    kind: Kind,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    tenant: Tenant,
    file_format: Format = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate every row and report; write nothing.")
    ] = False,
    batch_rows: Annotated[int, typer.Option(min=1, max=DEFAULT_BATCH_ROWS)] = DEFAULT_BATCH_ROWS,
) -> None:
    """Import FILE (CSV or JSON Lines) of KIND: every row validated first (line, column and
    rule of each bad one), then the good rows created or updated; the same file again changes
    nothing. Exit status 1 when a row was rejected."""
    spec = kind_of(kind)
    chosen = file_format or FileFormat.of(file)
    size = file.stat().st_size
    columns = (BarColumn(), DownloadColumn(), TimeElapsedColumn())
    with _reported(), _master_data() as client, Progress(*columns, console=err) as bar:
        task = bar.add_task("import", total=2 * size if not dry_run else size)
        passes = {"done": 0}

        def progress(read: int) -> None:
            bar.update(task, completed=passes["done"] + read)
            if read >= size:
                passes["done"] += size

        summary = import_file(client, tenant, spec, file, chosen, dry_run=dry_run,
                              batch_rows=batch_rows, progress=progress)  # fmt: skip
    for problem in summary.problems:
        err.print(str(problem), highlight=False)
    if summary.rejected > len(summary.problems):
        err.print(f"... and {summary.rejected - len(summary.problems)} more", highlight=False)
    state = "dry run, nothing written: " if dry_run else ""
    typer.echo(f"{kind.value}: {state}{summary.counts()}")
    if summary.rejected:
        raise typer.Exit(1)


@catalog_app.command("export")
def catalog_export(
    kind: Kind,
    tenant: Tenant,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="The file to write (default: stdout).")
    ] = None,
    file_format: Format = None,
) -> None:
    """Export every record of KIND, in key order, as a file `catalog import` takes back
    unchanged (items: the soft-deleted ones are left out)."""
    spec = kind_of(kind)
    chosen = file_format or (FileFormat.of(output) if output else FileFormat.CSV)
    path = f"/api/v1/tenants/{tenant}/bulk/{kind.value}"
    with _reported(), _master_data() as client:
        rows = (json.loads(line) for line in client.lines(path))
        if output is None:
            count = write(sys.stdout, chosen, spec, rows)
        else:
            with output.open("w", encoding="utf-8", newline="") as out:
                count = write(out, chosen, spec, rows)
    err.print(f"{kind.value}: {count} exported", highlight=False)


# -- terminals -------------------------------------------------------------------------------


@terminal_app.command("register")
def terminal_register(
    tenant: Tenant,
    store: Annotated[str, typer.Option("--store", "-s", help="The store's code.")],
    terminal_no: Annotated[int, typer.Option("--terminal", "-n", help="The till's number.")],
) -> None:
    """Register a terminal; prints its API key, which is shown this once."""
    _print_key(_run(_cart, lambda c: operations.register_terminal(c, tenant, store, terminal_no)))


@terminal_app.command("rotate-key")
def terminal_rotate_key(
    terminal_id: Annotated[str, typer.Argument(help="The terminal's id (terminal list).")],
) -> None:
    """Give a terminal a new API key (the old one stops working); prints it, this once."""
    _print_key(_run(_cart, lambda c: operations.rotate_key(c, terminal_id)))


@terminal_app.command("revoke")
def terminal_revoke(
    terminal_id: Annotated[str, typer.Argument(help="The terminal's id (terminal list).")],
) -> None:
    """Revoke a terminal: its key stops working."""
    _run(_cart, lambda c: c.call("DELETE", f"/api/v1/terminals/{terminal_id}"))
    err.print(f"terminal {terminal_id} revoked", highlight=False)


@terminal_app.command("list")
def terminal_list(tenant: Tenant) -> None:
    """List a tenant's terminals (never their keys)."""
    _show(_run(_cart, lambda c: c.call("GET", "/api/v1/terminals", params={"tenantId": tenant})))


def _print_key(answer: dict[str, Any]) -> None:
    terminal = answer.get("terminal", answer)
    err.print(
        f"terminal {terminal.get('terminalId')} ({terminal.get('tenantId')}/"
        f"{terminal.get('storeCode')}/{terminal.get('terminalNo')}); its API key, shown once:",
        highlight=False,
    )
    typer.echo(answer["apiKey"])
