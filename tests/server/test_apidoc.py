"""docs/api.md is generated from the OpenAPI schema and must match the code."""

from __future__ import annotations

from pathlib import Path

from ragline.server.apidoc import render
from ragline.server.app import create_app
from ragline.settings import load_settings

DOC = Path(__file__).parents[2] / "docs" / "api.md"


def test_api_reference_is_current(tmp_path: Path) -> None:
    spec = create_app(load_settings(data_dir=tmp_path)).openapi()
    assert DOC.read_text(encoding="utf-8") == render(spec), "docs/api.md is stale: run `make api-docs`"


def test_reference_covers_every_endpoint_and_schema(tmp_path: Path) -> None:
    spec = create_app(load_settings(data_dir=tmp_path)).openapi()
    text = render(spec)
    for path, item in spec["paths"].items():
        for method in item:
            assert f"`{method.upper()} {path}`" in text
    for name in spec["components"]["schemas"]:
        assert f"### {name}" in text
    assert "| `question` | string | yes |" in text
