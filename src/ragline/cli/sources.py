"""``ragline sources``: define, list and remove the sources ``ragline sync`` keeps in step.

Examples::

    ragline sources add docs --type web --url https://example.org/docs/ --collection docs
    ragline sources add faq --type sql --url sqlite:///faq.db --query "SELECT * FROM faq" \\
        --id-column id --text-column answer --metadata-column lang --collection faq --tenant acme
    ragline sources add handbook --type git --repo ../handbook --ref main --collection handbook
    ragline sources add reports --type s3 --bucket reports --endpoint-url http://minio:9000 -c reports
    ragline sources list
    ragline sources remove docs
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ragline.errors import ConfigError, RaglineError
from ragline.settings import load_settings
from ragline.types import DEFAULT_TENANT, parse_groups

sources_app = typer.Typer(
    help="Sources that `ragline sync` keeps in step with a collection.", no_args_is_help=True
)

# Own consoles rather than ragline.cli.main's: main imports this module, not the other way round.
console = Console()
err_console = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where ragline keeps its data (default ./.ragline or RAGLINE_DATA_DIR)."),
]
Tenant = Annotated[str, typer.Option("--tenant", help="Tenant the source belongs to.")]
# Shared with `ragline ingest`: None keeps the collection's [cleaning] settings.
PiiOpt = Annotated[
    bool | None,
    typer.Option("--pii/--no-pii", help="Redact personal data (default: the collection's cleaning.pii)."),
]
NearDuplicatesOpt = Annotated[
    bool | None,
    typer.Option(
        "--near-duplicates/--no-near-duplicates",
        help="Leave out near-duplicates of indexed documents (default: the collection's setting).",
    ),
]
Kind = Literal["web", "sql", "git", "s3"]

# Which command-line options each type takes, as (option, config field).
_OPTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "web": (
        ("--url", "urls"),
        ("--mode", "mode"),
        ("--prefix", "prefix"),
        ("--max-depth", "max_depth"),
        ("--max-pages", "max_pages"),
        ("--delay", "delay_s"),
    ),
    "sql": (
        ("--url", "url"),
        ("--query", "query"),
        ("--id-column", "id_column"),
        ("--text-column", "text_columns"),
        ("--title-column", "title_column"),
        ("--metadata-column", "metadata_columns"),
        ("--version-column", "version_column"),
    ),
    "git": (("--repo", "repo"), ("--ref", "ref"), ("--include", "include")),
    "s3": (
        ("--bucket", "bucket"),
        ("--prefix", "prefix"),
        ("--endpoint-url", "endpoint_url"),
        ("--region", "region"),
    ),
}


def _fail(exc: Exception) -> NoReturn:
    # Not wrapped at the terminal's width: a path or command in the message stays whole, to copy.
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _engine(data_dir: Path | None) -> Any:
    import ragline

    return ragline.open(data_dir)


def _registry(data_dir: Path | None) -> Any:
    from ragline.sources import SourceRegistry

    return SourceRegistry(load_settings(**({"data_dir": data_dir} if data_dir else {})).data_dir)


def source_config(kind: str, given: dict[str, Any]) -> dict[str, Any]:
    """The config fields of a ``kind`` source from the options given (None or empty: not given);
    a :class:`ConfigError` names options that belong to another type."""
    allowed = {opt: name for opt, name in _OPTIONS[kind]}
    wrong = sorted(opt for opt, value in given.items() if value not in (None, [], ()) and opt not in allowed)
    if wrong:
        takes = ", ".join(opt for opt, _ in _OPTIONS[kind])
        raise ConfigError(f"option(s) {', '.join(wrong)} do not apply to a {kind} source; it takes {takes}")
    config: dict[str, Any] = {"type": kind}
    for opt, name in _OPTIONS[kind]:
        value = given.get(opt)
        if value in (None, [], ()):
            continue
        if kind == "sql" and opt == "--url":
            if len(value) != 1:
                raise ConfigError(f"an sql source takes one --url (an SQLAlchemy URL), got {len(value)}")
            value = value[0]
        config[name] = value
    return config


@sources_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The source's name (unique within its tenant).")],
    kind: Annotated[Kind, typer.Option("--type", help="web, sql, git or s3.")],
    collection: Annotated[str, typer.Option("--collection", "-c", help="Collection its items go to.")],
    tenant: Tenant = DEFAULT_TENANT,
    groups: Annotated[
        str,
        typer.Option("--groups", help="Comma-separated groups allowed to read its items; empty: the tenant."),
    ] = "",
    clearance: Annotated[
        int, typer.Option("--clearance", min=0, max=100, help="Clearance a reader needs.")
    ] = 0,
    pii: PiiOpt = None,
    near_duplicates: NearDuplicatesOpt = None,
    url: Annotated[
        list[str] | None,
        typer.Option(
            "--url", help="web: a page, sitemap or start URL (repeatable); sql: the SQLAlchemy URL."
        ),
    ] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="web: crawl (default), sitemap or urls.")] = None,
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="web: crawl only URLs under it; s3: key prefix.")
    ] = None,
    max_depth: Annotated[
        int | None, typer.Option("--max-depth", help="web: links followed from a start URL.")
    ] = None,
    max_pages: Annotated[int | None, typer.Option("--max-pages", help="web: pages per sync at most.")] = None,
    delay: Annotated[
        float | None, typer.Option("--delay", help="web: seconds between requests to a host.")
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="sql: the query whose rows are documents.")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id-column", help="sql: the column naming a row.")
    ] = None,
    text_column: Annotated[
        list[str] | None, typer.Option("--text-column", help="sql: a column of the text (repeatable).")
    ] = None,
    title_column: Annotated[str | None, typer.Option("--title-column", help="sql: the title column.")] = None,
    metadata_column: Annotated[
        list[str] | None,
        typer.Option("--metadata-column", help="sql: a column kept as metadata (repeatable)."),
    ] = None,
    version_column: Annotated[
        str | None,
        typer.Option(
            "--version-column", help="sql: a column that changes with the row (default: a row hash)."
        ),
    ] = None,
    repo: Annotated[str | None, typer.Option("--repo", help="git: a repository path or clone URL.")] = None,
    ref: Annotated[
        str | None, typer.Option("--ref", help="git: branch, tag or commit (default HEAD).")
    ] = None,
    include: Annotated[
        list[str] | None, typer.Option("--include", help="git: a path glob to take (repeatable).")
    ] = None,
    bucket: Annotated[str | None, typer.Option("--bucket", help="s3: the bucket.")] = None,
    endpoint_url: Annotated[
        str | None, typer.Option("--endpoint-url", help="s3: another S3-compatible service.")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="s3: the region.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Define a source; `ragline sync NAME` then brings its items into the collection."""
    from ragline.sources import definition_from

    given = {
        "--url": url,
        "--mode": mode,
        "--prefix": prefix,
        "--max-depth": max_depth,
        "--max-pages": max_pages,
        "--delay": delay,
        "--query": query,
        "--id-column": id_column,
        "--text-column": text_column,
        "--title-column": title_column,
        "--metadata-column": metadata_column,
        "--version-column": version_column,
        "--repo": repo,
        "--ref": ref,
        "--include": include,
        "--bucket": bucket,
        "--endpoint-url": endpoint_url,
        "--region": region,
    }
    try:
        definition = definition_from(
            name=name,
            collection=collection,
            tenant=tenant,
            groups=parse_groups(groups),
            clearance=clearance,
            pii=pii,
            near_duplicates=near_duplicates,
            config=source_config(kind, given),
        )
        _registry(data_dir).add(definition)
    except (RaglineError, ValueError) as exc:
        _fail(exc)
    console.print(
        f"added {kind} source {escape(name)} -> collection {escape(collection)} (tenant {escape(tenant)}); "
        f"run: ragline sync {escape(name)}"
        + (f" --tenant {escape(tenant)}" if tenant != DEFAULT_TENANT else ""),
        highlight=False,
    )


@sources_app.command("list")
def list_sources(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's sources.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    data_dir: DataDir = None,
) -> None:
    """List sources with their collection, access and last sync."""
    try:
        registry = _registry(data_dir)
        states = [registry.get(d.name, d.tenant) for d in registry.list(tenant)]
    except RaglineError as exc:
        _fail(exc)
    if json_out:
        typer.echo(
            json.dumps(
                [
                    {**s.definition.model_dump(mode="json", exclude={"config"}), "type": s.definition.kind}
                    | {
                        "config": _shown(s.definition.config.model_dump(mode="json")),
                        "last_sync": s.last_sync,
                    }
                    for s in states
                ]
            )
        )
        return
    if not states:
        console.print("no sources (add one with: ragline sources add NAME --type web|sql|git|s3 ...)")
        return
    table = Table(box=box.SIMPLE)
    for col in ("tenant", "name", "type", "collection", "access", "where", "last sync"):
        table.add_column(col)
    for s in states:
        d = s.definition
        access = (",".join(d.groups) or "all") + (f", clearance {d.clearance}" if d.clearance else "")
        last = s.last_sync
        synced = (
            f"{last['finished_at']}: +{last['added']} ~{last['updated']} ={last['unchanged']} "
            f"-{last['deleted']} !{last['failed']}"
            if last
            else "never"
        )
        table.add_row(
            *(escape(str(v)) for v in (d.tenant, d.name, d.kind, d.collection, access, _where(d), synced))
        )
    console.print(table)


def _shown(config: dict[str, Any]) -> dict[str, Any]:
    """A config for display: an SQL URL's password hidden."""
    from ragline.sources.sql import safe_url

    return {**config, "url": safe_url(config["url"])} if config.get("type") == "sql" else config


def _where(d: Any) -> str:
    c = _shown(d.config.model_dump(mode="json"))
    if c["type"] == "web":
        return f"{c['mode']} " + " ".join(c["urls"])
    if c["type"] == "sql":
        return str(c["url"])
    if c["type"] == "git":
        return f"{c['repo']} @ {c['ref']}"
    return f"s3://{c['bucket']}/{c['prefix']}"


@sources_app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="The source to remove.")],
    tenant: Tenant = DEFAULT_TENANT,
    keep_documents: Annotated[
        bool, typer.Option("--keep-documents", help="Leave its items in the collection.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Remove a source and (unless --keep-documents) delete its items from its collection."""
    try:
        removed = _engine(data_dir).remove_source(name, tenant=tenant, keep_documents=keep_documents)
    except RaglineError as exc:
        _fail(exc)
    console.print(f"removed source {escape(name)}" + ("" if keep_documents else f"; {removed} items deleted"))
