"""A bounded schemathesis run over the whole API (issues 21 and 25 acceptance): cases generated from
the OpenAPI schema the server publishes at ``/v1/openapi.json``, valid and invalid, sent in-process
to the ASGI app as a tenant admin. No response may be a 5xx, and every response must be one the
schema declares (status, content type, body).

The schema is read from the app object when the module is collected (cheap: no data directory,
no model; a test checks it is what ``/v1/openapi.json`` serves); the app starts (state store,
models) on the first request and stops at the end."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ragline.engine import Engine
from ragline.server.app import create_app
from ragline.settings import load_settings
from ragline.types import Access, Document
from tests.server.conftest import make_keys

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DATA = Path(tempfile.gettempdir()) / f"ragline-fuzz-{uuid.uuid4().hex}"  # made on first use
ENGINE = Engine(
    load_settings(
        data_dir=DATA,
        # Small body limits so generated bodies reach them; a deep queue so nothing is shed.
        server={"json_logs": False, "max_upload_mb": 1, "max_json_mb": 0.5, "max_queue": 1000},
    )
)
APP = create_app(ENGINE.settings, engine=ENGINE)
# Reads go to a collection that holds documents, so generated filters, ids and questions reach
# the store instead of stopping at "collection not found". Writes go where the generator says:
# ingest jobs then never write the collection the reads are searching.
SEEDED = "docs"
READS = {
    ("GET", "/v1/collections/{collection}/documents"),
    ("GET", "/v1/collections/{collection}/documents/{doc_id}"),
    ("DELETE", "/v1/collections/{collection}/documents/{doc_id}"),
    ("POST", "/v1/collections/{collection}/search"),
    ("POST", "/v1/collections/{collection}/ask"),
}
schema = schemathesis.openapi.from_dict(APP.openapi())
# Per operation: this many generated cases besides schemathesis' boundary cases (20 operations
# take ~25 s on 2 cores). Deterministic, so the suite sends the same cases each run; for a deeper,
# random search: FUZZ_EXAMPLES=200 pytest tests/server/test_schemathesis.py
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))
schema.config.generation.update(max_examples=EXAMPLES or 8, deterministic=not EXAMPLES, database="none")
ADMIN: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def admin_key() -> Iterator[None]:
    ADMIN.update(make_keys(DATA).acme_admin)
    ENGINE.upsert_documents(
        [
            Document(
                id=f"acme/{i}",
                source="api:acme",
                title=f"Note {i}",
                text=f"Note {i}. The office opens at {8 + i} am and the cafeteria serves soup on day {i}.",
                metadata={"year": 2020 + i, "kind": "note" if i % 2 else "memo", "draft": i == 0},
                access=Access("acme"),
            )
            for i in range(4)
        ],
        collection=SEEDED,
    )
    yield
    shutdown_lifespans()
    shutil.rmtree(DATA, ignore_errors=True)


def test_the_fuzzed_schema_is_the_one_served_at_v1_openapi_json() -> None:
    served = TestClient(APP).get("/v1/openapi.json", headers=ADMIN)
    assert served.status_code == 200, served.text
    assert served.json() == json.loads(json.dumps(APP.openapi()))
    # Every route is fuzzed, the admin ones and the OpenAI endpoint among them.
    paths = served.json()["paths"]
    assert {"/v1/keys", "/v1/chat/completions", "/v1/collections/{collection}/files"} <= set(paths)
    assert sum(len(ops) for ops in paths.values()) == len(list(schema.get_all_operations()))


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_responses_match_the_schema(case: Any) -> None:
    if (case.method, case.path) in READS and "collection" in (case.path_parameters or {}):
        case.path_parameters["collection"] = SEEDED
    if case.path == "/v1/chat/completions" and isinstance(case.body, dict) and "model" in case.body:
        case.body["model"] = SEEDED
    if case.path == "/readyz":
        # The app loads its models in the background once started: until then /readyz answers its
        # documented 503 "loading models", which is readiness, not a server error. Fuzz it ready.
        deadline = time.monotonic() + 120
        while case.call(app=APP, headers=ADMIN).status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.05)
    case.call_and_validate(
        app=APP,
        headers=ADMIN,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
