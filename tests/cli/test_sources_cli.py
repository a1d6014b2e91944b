"""``ragline sources add/list/remove`` and ``ragline sync`` through typer's runner (on the fast
engine: the model is not the point), and ``sync --every`` stopped by Ctrl-C in a real process."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ragline.cli import main as cli_main
from ragline.cli import sources as cli_sources
from ragline.cli.main import app, parse_every
from ragline.types import Principal
from tests.helpers import fast_engine
from tests.sources.conftest import readable

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for module in (cli_main, cli_sources):
        monkeypatch.setattr(module, "_engine", lambda data_dir, **_: fast_engine(data_dir))
    return tmp_path / "data"


def _db(path: Path, rows: list[tuple[int, str]]) -> str:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT, kind TEXT)")
        conn.execute("DELETE FROM notes")
        conn.executemany("INSERT INTO notes VALUES (?, ?, 'memo')", rows)
    return f"sqlite:///{path}"


def _invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def _text(res: Any) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(res.output.split())


def test_add_list_sync_remove(data: Path, tmp_path: Path) -> None:
    url = _db(tmp_path / "n.db", [(1, "Otters hold hands."), (2, "Crows remember faces.")])
    res = _invoke(
        "sources", "add", "notes", "--type", "sql", "--url", url, "--query", "SELECT * FROM notes",
        "--id-column", "id", "--text-column", "body", "--metadata-column", "kind", "-c", "kb",
        "--tenant", "acme", "--groups", "eng", "--data-dir", str(data),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "ragline sync notes --tenant acme" in _text(res)

    listed = json.loads(_invoke("sources", "list", "--json", "--data-dir", str(data)).stdout)
    assert [(s["tenant"], s["name"], s["type"], s["collection"], s["groups"]) for s in listed] == [
        ("acme", "notes", "sql", "kb", ["eng"])
    ]
    assert listed[0]["last_sync"] is None

    res = _invoke("sync", "notes", "--tenant", "acme", "--json", "--data-dir", str(data))
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert (report["added"], report["unchanged"], report["collection"]) == (2, 0, "kb")

    _db(tmp_path / "n.db", [(1, "Otters hold hands.")])
    res = _invoke("sync", "--data-dir", str(data))  # every source of every tenant
    assert res.exit_code == 0, res.output
    assert "acme/notes (sql -> kb): 1 listed, 0 fetched, 0 added, 0 updated, 1 unchanged, 1 deleted" in _text(
        res
    )

    table = _invoke("sources", "list", "--tenant", "acme", "--data-dir", str(data)).stdout
    assert "notes" in table and "=1" in table and "-1" in table

    engine = fast_engine(data)
    assert readable(engine, "kb", Principal("acme", ("eng",))) == {"sql:notes/1"}
    res = _invoke("sources", "remove", "notes", "--tenant", "acme", "--data-dir", str(data))
    assert res.exit_code == 0 and "1 items deleted" in _text(res)
    assert readable(fast_engine(data), "kb", Principal("acme", ("eng",))) == set()
    assert json.loads(_invoke("sources", "list", "--json", "--data-dir", str(data)).stdout) == []


def test_the_source_file_hides_nothing_but_is_private_and_listing_hides_the_password(data: Path) -> None:
    url = "postgresql://app:s3cret@db.example.org/app"
    res = _invoke(
        "sources", "add", "pg", "--type", "sql", "--url", url, "--query", "SELECT 1", "--id-column", "id",
        "--text-column", "t", "-c", "kb", "--data-dir", str(data),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    path = data / "sources" / "default" / "pg.json"
    assert path.stat().st_mode & 0o077 == 0
    out = (
        _invoke("sources", "list", "--data-dir", str(data)).stdout
        + _invoke("sources", "list", "--json", "--data-dir", str(data)).stdout
    )
    assert "s3cret" not in out and "app:***@db.example.org" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "sql", "--url", "sqlite://", "--repo", "x"], "--repo do not apply to a sql source"),
        (["--type", "git"], "config.git.repo: Field required"),
        (["--type", "web", "--url", "http://x/", "--max-pages", "0"], "max_pages"),
        (["--type", "web", "--url", "http://x/", "--groups", "a b"], "group name"),
        (["--type", "ftp"], "'ftp' is not one of"),
    ],
)
def test_bad_source_options_are_named(data: Path, args: list[str], message: str) -> None:
    res = _invoke("sources", "add", "s", "-c", "kb", *args, "--data-dir", str(data))
    assert res.exit_code == 2
    assert message in _text(res)


def test_duplicate_name_and_unknown_source(data: Path) -> None:
    add = ["sources", "add", "w", "--type", "web", "--url", "http://x/", "-c", "kb", "--data-dir", str(data)]
    assert _invoke(*add).exit_code == 0
    res = _invoke(*add)
    assert res.exit_code == 2 and "already exists for tenant 'default'" in _text(res)
    res = _invoke("sync", "nope", "--data-dir", str(data))
    assert res.exit_code == 2 and "no source 'nope' for tenant 'default'; existing: w" in " ".join(
        res.output.split()
    )


def test_parse_every() -> None:
    assert [parse_every(t) for t in ("90", "30s", "10m", "1.5h", "1d")] == [90, 30, 600, 5400, 86400]
    for bad in ("", "0.5", "10x", "-1m", "m"):
        with pytest.raises(ValueError, match="not an interval of at least 1 s"):
            parse_every(bad)


@pytest.mark.integration
def test_sync_every_repeats_until_ctrl_c(tmp_path: Path) -> None:
    """A real process: two rounds of a source with nothing to embed, then SIGINT ends it cleanly."""
    data = tmp_path / "data"
    url = _db(tmp_path / "n.db", [])
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "RAGLINE_STORE__BACKEND": "memory"}
    cmd = [sys.executable, "-c", "from ragline.cli.main import app; app()"]
    add = [
        "sources", "add", "n", "--type", "sql", "--url", url, "--query", "SELECT * FROM notes",
        "--id-column", "id", "--text-column", "body", "-c", "kb", "--data-dir", str(data),
    ]  # fmt: skip
    subprocess.run([*cmd, *add], env=env, check=True, capture_output=True, timeout=120)
    proc = subprocess.Popen(
        [*cmd, "sync", "--every", "1s", "--json", "--data-dir", str(data)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert [json.loads(line)["source"] for line in lines] == ["n", "n"]
    assert proc.returncode == 0, err
    assert "sync stopped (Ctrl-C)" in err and "Traceback" not in err
    del out


def test_add_with_pii_and_near_duplicate_switches(data: Path, tmp_path: Path) -> None:
    url = _db(tmp_path / "n.db", [(1, "Write to jo@example.com about otters.")])
    res = _invoke(
        "sources", "add", "notes", "--type", "sql", "--url", url, "--query", "SELECT * FROM notes",
        "--id-column", "id", "--text-column", "body", "-c", "kb", "--pii", "--no-near-duplicates",
        "--data-dir", str(data),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    listed = json.loads(_invoke("sources", "list", "--json", "--data-dir", str(data)).stdout)
    assert (listed[0]["pii"], listed[0]["near_duplicates"]) == (True, False)
    assert _invoke("sync", "notes", "--data-dir", str(data)).exit_code == 0
    docs = fast_engine(data).search("otters", collection="kb")
    assert docs and "<EMAIL>" in docs[0].chunk.text and "jo@" not in docs[0].chunk.text
