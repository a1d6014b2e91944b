"""``ragline keys`` through typer's runner: create, list, revoke, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.cli.main import app
from ragline.service_state import open_state

runner = CliRunner()
CREATE = ["keys", "create", "--tenant", "acme"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings also come from ./ragline.toml and RAGLINE_* variables; keep the developer's out.
    monkeypatch.chdir(tmp_path)
    for name in ("RAGLINE_CONFIG", "RAGLINE_DATA_DIR", "RAGLINE_SERVER__STATE_URL"):
        monkeypatch.delenv(name, raising=False)


def _create(data: Path, *extra: str) -> dict[str, object]:
    res = runner.invoke(
        app,
        [*CREATE, "--groups", "eng, ops", "--role", "reader", "--json", "--data-dir", str(data), *extra],
    )
    assert res.exit_code == 0, res.output
    out: dict[str, object] = json.loads(res.stdout)
    return out


def test_create_prints_a_secret_that_authenticates(tmp_path: Path) -> None:
    data = tmp_path / "new" / "data"
    args = [*CREATE, "--groups", "eng,ops", "--role", "admin", "--clearance", "5", "--name", "ci bot"]
    res = runner.invoke(app, [*args, "--data-dir", str(data)])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("key: ")]
    assert len(lines) == 1
    secret = lines[0].removeprefix("key: ")
    assert secret.startswith("rl_")
    assert "not be shown again" in res.stdout

    state = open_state("", data)
    key = state.authenticate(secret)
    state.close()
    assert key is not None
    assert (key.name, key.tenant, key.groups, key.role, key.clearance) == (
        "ci bot",
        "acme",
        ("eng", "ops"),
        "admin",
        5,
    )


def test_create_json(tmp_path: Path) -> None:
    out = _create(tmp_path / "data", "--name", "svc")
    assert set(out) >= {"id", "name", "tenant", "groups", "role", "clearance", "created_at", "secret"}
    assert out["groups"] == ["eng", "ops"] and out["role"] == "reader" and out["revoked_at"] is None
    state = open_state("", tmp_path / "data")
    key = state.authenticate(str(out["secret"]))
    state.close()
    assert key is not None and key.id == out["id"]


def test_list_never_shows_secrets(tmp_path: Path) -> None:
    data = tmp_path / "data"
    a = _create(data, "--name", "first")
    b = _create(data, "--name", "second")
    res = runner.invoke(app, ["keys", "list", "--data-dir", str(data)])
    assert res.exit_code == 0, res.output
    assert str(a["id"]) in res.stdout and str(b["id"]) in res.stdout
    assert "first" in res.stdout and "acme" in res.stdout
    for k in (a, b):
        secret = str(k["secret"])
        assert secret not in res.stdout and secret.split("_", 2)[2] not in res.stdout

    res = runner.invoke(app, ["keys", "list", "--data-dir", str(data), "--json"])
    assert res.exit_code == 0, res.output
    listed = json.loads(res.stdout)
    assert [k["id"] for k in listed] == [a["id"], b["id"]]
    assert all("secret" not in k and "secret_hash" not in k for k in listed)
    assert str(a["secret"]) not in res.stdout

    res = runner.invoke(app, ["keys", "list", "--data-dir", str(data), "--tenant", "other", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout) == []


def test_list_empty(tmp_path: Path) -> None:
    res = runner.invoke(app, ["keys", "list", "--data-dir", str(tmp_path / "data")])
    assert res.exit_code == 0, res.output
    assert "no API keys" in res.stdout


def test_revoke(tmp_path: Path) -> None:
    data = tmp_path / "data"
    k = _create(data)
    res = runner.invoke(app, ["keys", "revoke", str(k["id"]), "--data-dir", str(data)])
    assert res.exit_code == 0, res.output
    assert "revoked" in res.stdout
    state = open_state("", data)
    assert state.authenticate(str(k["secret"])) is None
    # Both key operations are in the tenant's audit log.
    events = state.list_audit(tenant="acme")
    assert [e.action for e in events] == ["key_create", "key_revoke"]
    assert all(str(k["id"]) in e.detail and e.key_id == "cli" for e in events)
    state.close()

    res = runner.invoke(app, ["keys", "revoke", str(k["id"]), "--data-dir", str(data)])
    assert res.exit_code == 1
    assert "already revoked" in res.stderr
    res = runner.invoke(app, ["keys", "revoke", "ffffffffffff", "--data-dir", str(data)])
    assert res.exit_code == 1
    assert "ffffffffffff" in res.stderr

    listed = json.loads(runner.invoke(app, ["keys", "list", "--data-dir", str(data), "--json"]).stdout)
    assert listed[0]["revoked_at"] is not None


def test_bad_role_exits_2_with_the_choices(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["keys", "create", "--tenant", "acme", "--role", "owner", "--data-dir", str(tmp_path)]
    )
    assert res.exit_code == 2
    assert "owner" in res.output and "admin" in res.output and "reader" in res.output


def test_bad_tenant_exits_2_with_error(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["keys", "create", "--tenant", "bad_tenant", "--role", "reader", "--data-dir", str(tmp_path)]
    )
    assert res.exit_code == 2
    assert res.stderr.startswith("error:")
    assert "bad_tenant" in res.stderr and "letters, digits" in res.stderr


def test_bad_state_url_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGLINE_SERVER__STATE_URL", "mysql://db/x")
    res = runner.invoke(app, ["keys", "list", "--data-dir", str(tmp_path)])
    assert res.exit_code == 2
    assert "error:" in res.stderr and "mysql://db/x" in res.stderr


def test_list_prints_names_and_groups_verbatim(tmp_path: Path) -> None:
    # Key names and groups are free text: rich markup in them is shown, never interpreted.
    _create(tmp_path, "--name", "a[/]b")
    res = runner.invoke(app, ["keys", "list", "--data-dir", str(tmp_path)])
    assert res.exit_code == 0, (res.output, res.exception)
    assert " a[/]b " in res.stdout


def test_usage_report_per_tenant_and_days(tmp_path: Path) -> None:
    import time

    data = tmp_path / "data"
    data.mkdir()
    state = open_state("", data)
    now = time.time()
    state.record_usage(tenant="acme", key_id="k1", prompt_tokens=10, completion_tokens=4, cost_usd=0.5)
    state.record_usage(tenant="acme", key_id="k1", prompt_tokens=2, completion_tokens=1, cost_usd=0.25)
    state.record_usage(tenant="acme", key_id="k2", at=now - 5 * 86_400)
    state.record_usage(tenant="globex", key_id="g1", prompt_tokens=99)
    state.close()

    res = runner.invoke(app, ["usage", "--tenant", "acme", "--days", "2", "--json", "--data-dir", str(data)])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)["rows"]
    assert [(r["key_id"], r["requests"], r["prompt_tokens"], r["completion_tokens"]) for r in rows] == [
        ("k1", 2, 12, 5)
    ]
    assert rows[0]["cost_usd"] == pytest.approx(0.75)
    week = json.loads(runner.invoke(app, ["usage", "--days", "7", "--json", "--data-dir", str(data)]).stdout)[
        "rows"
    ]
    assert sorted((r["tenant"], r["key_id"]) for r in week) == [
        ("acme", "k1"),
        ("acme", "k2"),
        ("globex", "g1"),
    ]
    table = runner.invoke(app, ["usage", "--tenant", "acme", "--data-dir", str(data)])
    assert table.exit_code == 0
    assert "total" in table.stdout and "0.7500" in table.stdout
    bad = runner.invoke(app, ["usage", "--days", "0", "--data-dir", str(data)])
    assert bad.exit_code == 2
