"""``ragline golden``, ``ragline experiments``, ``ragline feedback`` and ``ragline eval golden|gate``:
what production use tells, from the service's state store.

Examples::

    ragline golden export golden.jsonl --collection kb --since 2026-11-01
    ragline eval golden golden.jsonl
    ragline eval gate bench/gate/scifact-slice golden.jsonl --baseline bench/gate/baseline.json
    ragline experiments report rerank --json
    ragline experiments replay rerank golden.jsonl
    ragline feedback report --collection kb --days 7
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ragline.cli.keys import DataDir, JsonOut, _fail, _open
from ragline.errors import ConfigError, RaglineError

golden_app = typer.Typer(help="Golden evaluation sets from rated answers.", no_args_is_help=True)
experiments_app = typer.Typer(
    help="A/B experiments ([experiments.NAME] in the settings).", no_args_is_help=True
)
feedback_app = typer.Typer(help="What users' ratings say.", no_args_is_help=True)

console = Console()

TenantOpt = Annotated[
    str | None, typer.Option("--tenant", help="Only this tenant's traces (default: every tenant).")
]
CollectionOpt = Annotated[str | None, typer.Option("--collection", "-c", help="Only this collection.")]


def _since(text: str | None) -> float:
    if not text:
        return 0.0
    try:
        day = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--since {text!r} is not a date; use YYYY-MM-DD (or an ISO time)") from None
    return (day if day.tzinfo else day.replace(tzinfo=datetime.UTC)).timestamp()


def _engine(data_dir: Path | None) -> Any:
    import ragline

    return ragline.open(data_dir)


@golden_app.command("export")
def golden_export(
    file: Annotated[Path, typer.Argument(help="The golden set to write (JSON Lines).")],
    collection: CollectionOpt = None,
    tenant: TenantOpt = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only traces from this date (YYYY-MM-DD).")
    ] = None,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
) -> None:
    """Write up-rated answered questions (deduplicated, cited documents as relevance labels) to FILE
    and the down-rated ones to FILE's .review.jsonl."""
    from ragline.insights.golden import export_golden

    try:
        state = _open(data_dir)
        try:
            r = export_golden(state, file, tenant=tenant, collection=collection, since=_since(since))
        finally:
            state.close()
    except RaglineError as exc:
        _fail(exc)
    out = {
        "golden": r.golden,
        "review": r.review,
        "skipped_uncited": r.skipped_uncited,
        "duplicates": r.duplicates,
        "path": str(r.path),
        "review_path": str(r.review_path),
    }
    if json_out:
        typer.echo(json.dumps(out))
        return
    console.print(
        f"{r.golden} golden questions -> {escape(str(r.path))}; {r.review} for review -> "
        f"{escape(str(r.review_path))} ({r.duplicates} duplicates merged, {r.skipped_uncited} up-rated "
        "without citations skipped)",
        highlight=False,
    )


def eval_golden(
    file: Annotated[Path, typer.Argument(help="A golden set from `ragline golden export`.")],
    collection: CollectionOpt = None,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
) -> None:
    """Search every golden question with the configured settings: nDCG@10, recall@10, MRR@10, hit@k."""
    from ragline.eval.golden import run_golden

    try:
        result = run_golden(_engine(data_dir), file, collection=collection)
    except RaglineError as exc:
        _fail(exc)
    if json_out:
        typer.echo(json.dumps(result.as_json()))
        return
    t = Table(title=escape(f"{result.name} ({result.queries} questions)"))
    keys = ("ndcg@10", "recall@10", "mrr@10", "hit@1", "hit@3", "hit@10")
    for k in keys:
        t.add_column(k)
    t.add_row(*(f"{result.metrics[k]:.4f}" for k in keys))
    console.print(t)


def eval_gate(
    datasets: Annotated[list[Path], typer.Argument(help="BEIR dataset folders and golden-set files.")],
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Fail (exit 1) on a drop beyond tolerance from this.")
    ] = None,
    write: Annotated[
        Path | None, typer.Option("--write-baseline", help="Record the metrics measured now as the baseline.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Queries per BEIR dataset.")] = None,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
) -> None:
    """Run DATASETS with the configured settings and compare with a baseline; exit 1 naming each
    metric that fell by more than its tolerance (default 0.02 absolute)."""
    from ragline.eval.gate import check, load_baseline, run_datasets, write_baseline

    if (baseline is None) == (write is None):
        _fail(ConfigError("give exactly one of --baseline FILE (check) or --write-baseline FILE (record)"))
    try:
        base = load_baseline(baseline) if baseline is not None else None
        current = run_datasets(_engine(data_dir), datasets, limit=limit)
    except RaglineError as exc:
        _fail(exc)
    if write is not None:
        write_baseline(write, current)
        typer.echo(
            json.dumps(current) if json_out else f"baseline of {len(current)} metrics written to {write}"
        )
        return
    assert base is not None
    failures = check(current, base)
    if json_out:
        typer.echo(
            json.dumps(
                {"passed": not failures, "metrics": current, "failures": [f.message() for f in failures]}
            )
        )
    else:
        for k, v in sorted(current.items()):
            was = base["metrics"].get(k)
            console.print(
                f"{escape(k)}: {v:.4f}" + (f" (baseline {was:.4f})" if was is not None else ""),
                highlight=False,
            )
        for f in failures:
            console.print(f"[bold red]FAIL[/] {escape(f.message())}", highlight=False)
        if not failures:
            console.print("[green]gate passed[/]")
    if failures:
        raise typer.Exit(code=1)


@experiments_app.command("report")
def experiments_report(
    name: Annotated[str, typer.Argument(help="The experiment ([experiments.NAME]).")],
    tenant: TenantOpt = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only traces from this date (YYYY-MM-DD).")
    ] = None,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
) -> None:
    """Per variant: answers, abstention, feedback and thumbs-up rate, latency p50/p95, cost, with
    significance against the control."""
    from ragline.insights.experiments import experiment_report
    from ragline.settings import load_settings

    try:
        settings = load_settings(**({"data_dir": data_dir} if data_dir else {}))
        state = _open(data_dir)
        try:
            report = experiment_report(state, settings, name, tenant=tenant, since=_since(since))
        finally:
            state.close()
    except RaglineError as exc:
        _fail(exc)
    if json_out:
        typer.echo(json.dumps(report.as_json()))
        return
    t = Table(title=escape(f"experiment {name} (alpha {report.alpha})"))
    cols = ("variant", "traces", "answers", "abstain", "rated", "thumbs up", "p50 ms", "p95 ms", "cost $")
    for c in cols:
        t.add_column(c)
    for v in report.variants:
        rates = (v.abstention_rate, v.feedback_rate, v.thumbs_up_rate)
        t.add_row(
            escape(v.variant),
            str(v.traces),
            str(v.answers),
            *(f"{x:.3f}" for x in rates),
            f"{v.latency_p50_ms:.1f}",
            f"{v.latency_p95_ms:.1f}",
            f"{v.cost_usd:.4f}",
        )
    console.print(t)
    for cmp in report.comparisons:
        for what, test in (("abstention", cmp.abstention), ("thumbs-up", cmp.thumbs_up)):
            mark = "significant" if test.p_value < report.alpha else "not significant"
            console.print(
                f"{escape(cmp.variant)} vs control, {what}: {test.diff:+.3f} "
                f"(z {test.z:.2f}, p {test.p_value:.4f}, {mark})"
            )
        for what, ci in (("p50", cmp.latency_p50), ("p95", cmp.latency_p95)):
            console.print(
                f"{escape(cmp.variant)} vs control, latency {what}: {ci.estimate:+.1f} ms "
                f"[{ci.low:+.1f}, {ci.high:+.1f}]{' significant' if ci.significant else ''}"
            )
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)


@experiments_app.command("replay")
def experiments_replay(
    name: Annotated[str, typer.Argument(help="The experiment ([experiments.NAME]).")],
    golden: Annotated[Path, typer.Argument(help="A golden set from `ragline golden export`.")],
    json_out: JsonOut = False,
    data_dir: DataDir = None,
) -> None:
    """Replay a golden set through every variant of an experiment, offline."""
    from ragline.eval.golden import replay

    try:
        results = replay(_engine(data_dir), name, golden)
    except RaglineError as exc:
        _fail(exc)
    if json_out:
        typer.echo(json.dumps({arm: r.as_json() for arm, r in results.items()}))
        return
    keys = ("ndcg@10", "recall@10", "mrr@10", "hit@1", "hit@10")
    t = Table(title=escape(f"replay of {golden.name} through {name}"))
    t.add_column("variant")
    for k in keys:
        t.add_column(k)
    for arm, r in results.items():
        t.add_row(escape(arm), *(f"{r.metrics[k]:.4f}" for k in keys))
    console.print(t)


@feedback_app.command("report")
def feedback_report_cmd(
    collection: CollectionOpt = None,
    tenant: TenantOpt = None,
    days: Annotated[float, typer.Option("--days", min=0.001, help="Traces of the last N days.")] = 30.0,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
) -> None:
    """Thumbs-up rate per collection, variant and day, and the worst-rated questions with their traces."""
    from ragline.insights.feedback import feedback_report

    try:
        state = _open(data_dir)
        try:
            report = feedback_report(state, tenant=tenant, collection=collection, days=days)
        finally:
            state.close()
    except RaglineError as exc:
        _fail(exc)
    if json_out:
        typer.echo(json.dumps(report.as_json()))
        return
    console.print(f"{report.rated} of {report.traces} traces rated in the last {days:g} days")
    for title, rows in (
        ("collection", report.by_collection),
        ("variant", report.by_variant),
        ("day", report.by_day),
    ):
        t = Table(title=f"thumbs-up rate by {title}")
        for c in (title, "up", "down", "rate"):
            t.add_column(c)
        for r in rows:
            t.add_row(escape(r.key), str(r.up), str(r.down), f"{r.rate:.3f}")
        console.print(t)
    w = Table(title="worst-rated questions")
    for c in ("question", "collection", "up", "down", "traces"):
        w.add_column(c)
    for q in report.worst:
        w.add_row(escape(q.question), escape(q.collection), str(q.up), str(q.down), ", ".join(q.trace_ids))
    console.print(w)
