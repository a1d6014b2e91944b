"""``ragline keys``: create, list and revoke the API keys of ``ragline serve``.

Examples::

    ragline keys create --tenant acme --groups eng,ops --role reader --name ci
    ragline keys list --tenant acme
    ragline keys revoke 3f2a9c1b7d04
    ragline usage --tenant acme --days 7      (the usage report, also here: it reads the same state)
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ragline.errors import RaglineError
from ragline.service_state import Role, StateStore, open_state
from ragline.service_state.base import total_usage
from ragline.settings import load_settings

keys_app = typer.Typer(help="Manage API keys for `ragline serve`.", no_args_is_help=True)

# Own consoles rather than ragline.cli.main's: main imports this module, not the other way round.
console = Console()
err_console = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where ragline keeps its data (default ./.ragline or RAGLINE_DATA_DIR)."),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _fail(exc: Exception) -> NoReturn:
    # Not wrapped at the terminal's width: a path or command in the message stays whole, to copy.
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _open(data_dir: Path | None) -> StateStore:
    s = load_settings(**({"data_dir": data_dir} if data_dir else {}))
    try:
        s.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RaglineError(f"cannot create data folder {s.data_dir}: {exc}") from exc
    return open_state(
        s.server.state_url,
        s.data_dir,
        trace_retention=s.server.trace_retention,
        trace_retention_days=s.server.trace_retention_days,
    )


def _when(ts: float | None, fmt: str) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, tz=UTC).strftime(fmt)


@keys_app.command()
def create(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant the key belongs to.")],
    role: Annotated[Role, typer.Option("--role", help="admin (manage data) or reader (search and ask).")],
    groups: Annotated[
        str, typer.Option("--groups", help="Comma-separated groups whose documents the key may read.")
    ] = "",
    clearance: Annotated[
        int, typer.Option("--clearance", help="Highest document clearance (0-100) the key may read.")
    ] = 0,
    name: Annotated[str, typer.Option("--name", help="A label for people, e.g. who uses the key.")] = "",
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Create an API key and print its secret (shown only this once)."""
    group_list = [g.strip() for g in groups.split(",") if g.strip()]
    try:
        state = _open(data_dir)
        try:
            key, secret = state.create_key(
                name=name, tenant=tenant, groups=group_list, role=role, clearance=clearance
            )
            state.append_audit(
                tenant=key.tenant,
                key_id="cli",
                action="key_create",
                detail=json.dumps({"key": key.id, "role": key.role}),
            )
        finally:
            state.close()
    except RaglineError as exc:
        _fail(exc)
    if json_out:
        typer.echo(json.dumps({**dataclasses.asdict(key), "secret": secret}))
        return
    # typer.echo, not rich: the secret must come out verbatim, never wrapped or styled.
    typer.echo(f"created key {key.id} (tenant {key.tenant}, role {key.role})")
    typer.echo(f"key: {secret}")
    typer.echo("Store it now: the secret is not saved and will not be shown again.")


@keys_app.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's keys.")] = None,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """List API keys (never their secrets), oldest first."""
    try:
        state = _open(data_dir)
        try:
            keys = state.list_keys(tenant)
        finally:
            state.close()
    except RaglineError as exc:
        _fail(exc)
    if json_out:
        typer.echo(json.dumps([dataclasses.asdict(k) for k in keys]))
        return
    if not keys:
        console.print("no API keys; create one with `ragline keys create --tenant T --role admin`")
        return
    # A light box and unwrapped ids/times keep the table readable in an 80-column terminal.
    t = Table(title="API keys", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    t.add_column("id", no_wrap=True)
    for col in ("name", "tenant", "groups"):
        t.add_column(col, overflow="fold", min_width=4)
    t.add_column("role", no_wrap=True)
    t.add_column("clearance", justify="right", no_wrap=True)
    t.add_column("created", no_wrap=True)
    t.add_column("revoked", no_wrap=True)
    # Times (UTC) only when there is room; --json has the exact timestamps.
    fmt = "%Y-%m-%d %H:%MZ" if console.width >= 120 else "%Y-%m-%d"
    for k in keys:
        # Names, tenants and groups are free text: escaped so that "[/]" prints rather than crashes.
        t.add_row(
            k.id,
            escape(k.name),
            escape(k.tenant),
            escape(", ".join(k.groups)),
            k.role,
            str(k.clearance),
            _when(k.created_at, fmt),
            _when(k.revoked_at, fmt),
        )
    console.print(t)


@keys_app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(metavar="ID", help="Id of the key (see `ragline keys list`).")],
    data_dir: DataDir = None,
) -> None:
    """Revoke an API key; requests using it fail from now on."""
    try:
        state = _open(data_dir)
        try:
            revoked = state.revoke_key(key_id)
            gone = state.get_key(key_id) if revoked else None
            if gone is not None:
                state.append_audit(
                    tenant=gone.tenant, key_id="cli", action="key_revoke", detail=json.dumps({"key": key_id})
                )
        finally:
            state.close()
    except RaglineError as exc:
        _fail(exc)
    if not revoked:
        err_console.print(
            f"no active key with id {escape(repr(key_id))} (unknown or already revoked); "
            "see `ragline keys list`",
            highlight=False,
        )
        raise typer.Exit(code=1)
    console.print(f"revoked key {escape(key_id)}", highlight=False)


def usage(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant (default: all).")] = None,
    days: Annotated[
        int, typer.Option("--days", min=1, max=366, help="Days back, today included (UTC).")
    ] = 30,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Queries, LLM tokens and cost per tenant, key and UTC day (what `ragline serve` recorded).

    Example: ``ragline usage --tenant acme --days 7``
    """
    since = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86_400 * (days - 1)))
    try:
        state = _open(data_dir)
        try:
            rows = state.list_usage(tenant=tenant, since_day=since)
        finally:
            state.close()
    except RaglineError as exc:
        _fail(exc)
    if json_out:
        typer.echo(json.dumps({"since_day": since, "rows": [dataclasses.asdict(u) for u in rows]}))
        return
    if not rows:
        console.print(f"no usage since {since}" + (f" in tenant {escape(tenant)!r}" if tenant else ""))
        return
    t = Table(
        title=f"usage since {since} (UTC)",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for col in ("day", "tenant", "key"):
        t.add_column(col, no_wrap=True)
    for col in ("requests", "tokens in", "tokens out", "cost $"):
        t.add_column(col, justify="right", no_wrap=True)
    for u in [*rows, total_usage(rows)]:
        last = u.day == "*"
        t.add_row(
            "total" if last else u.day,
            "" if last else escape(u.tenant),
            "" if last else u.key_id,
            str(u.requests),
            str(u.prompt_tokens),
            str(u.completion_tokens),
            f"{u.cost_usd:.4f}",
        )
    console.print(t)
