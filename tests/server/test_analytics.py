"""A/B experiments and feedback analytics over the HTTP API: each request runs on its variant's
settings, the variant is stored in its trace, and the admin reports count what was rated, for the
caller's tenant only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragline.insights.experiments import assign
from ragline.server.app import create_app
from ragline.settings import ExperimentSettings
from ragline.types import Access, Document
from tests.helpers import fast_engine
from tests.server.conftest import Keys, make_keys, wait_ready

DOCS = {
    "lighthouse": "The Orrin Point lighthouse was built in 1874 from pale granite blocks.",
    "dam": "The Velmar dam was built in 1950 from concrete and holds the valley reservoir.",
}
EXPERIMENT = {
    "mode": {
        "unit": "user",
        "min_samples": 5,
        "variants": {"control": {}, "keyword": {"retrieval": {"mode": "keyword"}}},
    }
}
USERS = [f"user{i}" for i in range(8)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Keys]]:
    data_dir = tmp_path_factory.mktemp("analytics")
    keys = make_keys(data_dir)
    engine = fast_engine(data_dir, server={"json_logs": False}, experiments=EXPERIMENT)
    docs = [
        Document(id=k, source=k, text=v, title=k, access=Access("acme", groups=("eng",)))
        for k, v in DOCS.items()
    ]
    engine.upsert_documents(docs, collection="kb")
    with TestClient(create_app(engine.settings, engine=engine)) as c:
        wait_ready(c)
        yield c, keys


def _ask(c: TestClient, headers: dict[str, str], question: str, user: str) -> dict[str, Any]:
    r = c.post(
        "/v1/collections/kb/ask", json={"question": question}, headers={**headers, "X-Ragline-User": user}
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_variants_run_their_settings_are_traced_and_reported(setup: tuple[TestClient, Keys]) -> None:
    c, keys = setup
    exp = ExperimentSettings(**EXPERIMENT["mode"])
    arms = {u: assign("mode", exp, f"user:{u}") for u in USERS}
    assert set(arms.values()) == {"control", "keyword"}, "the users must cover both variants"
    expected = {"control": [0, 0, 0], "keyword": [0, 0, 0]}  # answers, rated, up
    for i, user in enumerate(USERS):
        answer = _ask(c, keys.acme_eng, "When was the Orrin Point lighthouse built?", user)
        trace = c.get(f"/v1/traces/{answer['trace_id']}", headers=keys.acme_admin).json()
        assert trace["variant"] == f"mode={arms[user]}"
        retrievers = {name for h in trace["trace"]["hits"] for name in h["retrievers"]}
        # The keyword variant's settings were applied: no dense retriever ran.
        assert (retrievers == {"keyword"}) == (arms[user] == "keyword"), retrievers
        expected[arms[user]][0] += 1
        if i % 2 == 0:
            rating = "up" if i % 4 == 0 else "down"
            r = c.post(
                "/v1/feedback", json={"trace_id": answer["trace_id"], "rating": rating}, headers=keys.acme_eng
            )
            assert r.status_code == 201, r.text
            expected[arms[user]][1] += 1
            expected[arms[user]][2] += rating == "up"
    # The same user always gets the same variant.
    again = _ask(c, keys.acme_eng, "Who built the Velmar dam?", USERS[0])
    assert (
        c.get(f"/v1/traces/{again['trace_id']}", headers=keys.acme_admin).json()["variant"]
        == f"mode={arms[USERS[0]]}"
    )
    expected[arms[USERS[0]]][0] += 1

    report = c.get("/v1/experiments/mode/report", headers=keys.acme_admin)
    assert report.status_code == 200, report.text
    body = report.json()
    got = {
        v["variant"]: [v["answers"], v["rated"], round(v["thumbs_up_rate"] * v["rated"])]
        for v in body["variants"]
    }
    assert got == expected
    assert body["control"] == "control" and [cmp["variant"] for cmp in body["comparisons"]] == ["keyword"]
    assert any("below min_samples=5" in w for w in body["warnings"])
    # Another tenant's admin sees none of it; a reader may not ask; an unknown experiment is a 404.
    other = c.get("/v1/experiments/mode/report", headers=keys.globex_admin).json()
    assert [v["traces"] for v in other["variants"]] == [0, 0]
    assert c.get("/v1/experiments/mode/report", headers=keys.acme_eng).status_code == 403
    missing = c.get("/v1/experiments/nope/report", headers=keys.acme_admin)
    assert missing.status_code == 404 and "configured: mode" in missing.text


def test_feedback_report_is_per_tenant_with_worst_questions(setup: tuple[TestClient, Keys]) -> None:
    c, keys = setup
    answer = _ask(c, keys.acme_eng, "Which reservoir does the Velmar dam hold?", "someone")
    for _ in range(3):
        assert (
            c.post(
                "/v1/feedback", json={"trace_id": answer["trace_id"], "rating": "down"}, headers=keys.acme_eng
            ).status_code
            == 201
        )
    r = c.get("/v1/feedback/report", params={"collection": "kb", "days": 1}, headers=keys.acme_admin)
    assert r.status_code == 200, r.text
    body = r.json()
    kb = {row["key"]: row for row in body["by_collection"]}["kb"]
    assert kb["rated"] == body["rated"] and kb["up"] + kb["down"] == kb["rated"]
    assert body["worst"][0]["question"] == "Which reservoir does the Velmar dam hold?"
    assert body["worst"][0]["down"] == 3 and body["worst"][0]["trace_ids"] == [answer["trace_id"]]
    assert {row["key"].split("=")[0] for row in body["by_variant"]} == {"mode"}
    globex = c.get("/v1/feedback/report", headers=keys.globex_admin).json()
    assert (globex["rated"], globex["worst"]) == (0, [])
    assert c.get("/v1/feedback/report", headers=keys.acme_hr).status_code == 403
    assert c.get("/v1/feedback/report", params={"days": 0}, headers=keys.acme_admin).status_code == 422
