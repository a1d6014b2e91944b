"""The OpenAI-compatible endpoint, driven by the stock ``openai`` client over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from ragline.server.app import create_app
from ragline.settings import load_settings
from tests.server.conftest import Keys, make_keys, serving

pytestmark = pytest.mark.integration

FACTS = {
    "kites.md": "# Kites\n\n## Flying\n\nKites fly best in a steady wind of 15 to 25 km/h. "
    "Launch with the wind at your back.\n",
    "bread.md": "# Bread\n\n## Proofing\n\nSourdough proofs for 12 hours in the fridge. "
    "Bake it at 250 degrees.\n",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Keys]]:
    data = tmp_path_factory.mktemp("oa")
    keys = make_keys(data)
    app = create_app(load_settings(data_dir=data, server={"json_logs": False}))
    with serving(app) as base:
        files = [("files", (n, t.encode(), "text/markdown")) for n, t in FACTS.items()]
        job = httpx.post(f"{base}/v1/collections/hobbies/files", files=files, headers=keys.acme_admin).json()
        while job["status"] not in ("done", "failed"):
            time.sleep(0.1)
            job = httpx.get(f"{base}/v1/jobs/{job['id']}", headers=keys.acme_admin).json()
        assert job["status"] == "done", job
        yield base, keys


def _client(base: str, headers: dict[str, str]) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key=headers["Authorization"].split()[1], max_retries=0)


def test_models_lists_readable_collections(server: tuple[str, Keys]) -> None:
    base, keys = server
    assert [m.id for m in _client(base, keys.acme_eng).models.list()] == ["hobbies"]
    assert [m.id for m in _client(base, keys.globex_admin).models.list()] == []


def test_stock_client_streams_an_answer_with_citations(server: tuple[str, Keys]) -> None:
    base, keys = server
    stream = _client(base, keys.acme_eng).chat.completions.create(
        model="hobbies",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "How long does sourdough proof?"},
        ],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, citations, finish = [], None, None
    for chunk in stream:
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
            extra = chunk.model_extra or {}
            citations = extra.get("citations", citations)
    text = "".join(pieces)
    assert "12 hours" in text and "[1]" in text and "Sources:" in text
    assert finish == "stop"
    assert citations and citations[0]["source"].endswith("bread.md")
    assert citations[0]["quote"] in text


def test_stock_client_non_streaming(server: tuple[str, Keys]) -> None:
    base, keys = server
    r = _client(base, keys.acme_eng).chat.completions.create(
        model="hobbies",
        messages=[{"role": "user", "content": [{"type": "text", "text": "What wind suits kites?"}]}],
    )
    msg = r.choices[0].message.content or ""
    assert "15 to 25 km/h" in msg and "[1]" in msg
    extra = r.model_extra or {}
    assert extra["citations"][0]["source"].endswith("kites.md")
    assert extra["ragline"]["trace_id"] and extra["ragline"]["mode"] == "extractive"


def test_a_follow_up_is_read_in_its_conversation(server: tuple[str, Keys]) -> None:
    base, keys = server
    messages: list[Any] = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "How long does sourdough proof?"},
        {"role": "assistant", "content": "Sourdough proofs for 12 hours in the fridge [1]."},
        {"role": "user", "content": "At what temperature do I bake it?"},
    ]
    r = _client(base, keys.acme_eng).chat.completions.create(model="hobbies", messages=messages)
    msg = r.choices[0].message.content or ""
    assert "250 degrees" in msg and (r.model_extra or {})["citations"][0]["source"].endswith("bread.md")
    trace_id = (r.model_extra or {})["ragline"]["trace_id"]
    trace = httpx.get(f"{base}/v1/traces/{trace_id}", headers=keys.acme_eng).json()
    # The question is the last user message; the query searched carries the conversation's topic.
    assert trace["question"] == "At what temperature do I bake it?"
    assert trace["trace"]["query"] == "At what temperature do I bake it? (sourdough proof)"
    assert trace["trace"]["condense"]["method"] == "rules"
    # Streamed, with the question in content parts, the same conversation gives the same answer.
    messages[-1] = {
        "role": "user",
        "content": [{"type": "text", "text": "At what temperature do I bake it?"}],
    }
    stream = _client(base, keys.acme_eng).chat.completions.create(
        model="hobbies", messages=messages, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "250 degrees" in text


def test_errors_reach_the_client_as_openai_errors(server: tuple[str, Keys]) -> None:
    base, keys = server
    c = _client(base, keys.acme_eng)
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        c.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="no user message"):
        c.chat.completions.create(model="hobbies", messages=[{"role": "system", "content": "only system"}])
    with pytest.raises(openai.UnprocessableEntityError, match="n"):
        c.chat.completions.create(model="hobbies", messages=[{"role": "user", "content": "x"}], n=2)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{base}/v1", api_key="rl_bad_key", max_retries=0).models.list()


def test_other_tenant_gets_nothing_from_this_collection(server: tuple[str, Keys]) -> None:
    base, keys = server
    # Tenants are namespaces: acme's "hobbies" is no model of globex's, exactly like a name never used.
    with pytest.raises(openai.NotFoundError, match="does not exist") as exc:
        _client(base, keys.globex_admin).chat.completions.create(
            model="hobbies",
            messages=[{"role": "user", "content": "Sourdough proofs for 12 hours in the fridge."}],
        )
    assert "12 hours" not in str(exc.value) and "acme" not in str(exc.value)


def test_data_dir_is_real(server: tuple[str, Keys]) -> None:
    base, keys = server
    docs = httpx.get(f"{base}/v1/collections/hobbies/documents", headers=keys.acme_admin).json()["documents"]
    assert sorted(Path(d["source"]).name for d in docs) == ["bread.md", "kites.md"]
