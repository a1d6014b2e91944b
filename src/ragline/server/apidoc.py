"""Render the OpenAPI schema as a Markdown API reference (``docs/api.md``).

Example::

    python -m ragline.server.apidoc > docs/api.md
"""

from __future__ import annotations

import sys
from typing import Any

_METHODS = ("get", "post", "put", "patch", "delete")


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return f"[{schema['$ref'].rsplit('/', 1)[-1]}](#{schema['$ref'].rsplit('/', 1)[-1].lower()})"
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"])
    if "allOf" in schema:
        return " and ".join(_type(s) for s in schema["allOf"])
    t = schema.get("type", "any")
    if t == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    extra = schema.get("additionalProperties")
    if t == "object" and isinstance(extra, dict):
        return f"object of {_type(extra)}"
    return str(t)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _fields(schema: dict[str, Any]) -> list[str]:
    props: dict[str, Any] = schema.get("properties", {})
    if not props:
        return []
    required = set(schema.get("required", []))
    rows = ["| field | type | required | default | description |", "|---|---|---|---|---|"]
    for name, p in props.items():
        default = f"`{p['default']}`" if "default" in p and p["default"] not in ({}, []) else ""
        rows.append(
            f"| `{name}` | {_type(p)} | {'yes' if name in required else ''} | {_cell(default)} "
            f"| {_cell(p.get('description', ''))} |"
        )
    return rows


def render(spec: dict[str, Any]) -> str:
    """The whole reference: endpoints grouped by tag, then every schema."""
    info = spec["info"]
    out = [
        "# ragline HTTP API reference",
        "",
        f"Version {info['version']}. Generated from the OpenAPI schema by `python -m ragline.server.apidoc`"
        " (`make api-docs`); do not edit by hand. The live schema is at `/v1/openapi.json` and an",
        "interactive explorer at `/v1/docs` on a running server.",
        "",
        "Authentication: send an API key as `Authorization: Bearer <key>` (or `X-API-Key: <key>`);",
        "`ragline keys create` makes one. `/healthz`, `/readyz` and `/metrics` need no key. Errors are",
        '`{"error": {"type": ..., "message": ...}}` with a 4xx/5xx status; the message says what to do.',
        "",
        "| status | meaning |",
        "|---|---|",
        "| 400 | bad input: malformed JSON, a bad filter or name |",
        "| 401 | missing, unknown or revoked API key |",
        "| 403 | the key's role (reader/admin) or clearance does not allow this |",
        "| 404 | unknown collection, document, job or trace (or one you may not read) |",
        "| 413 | body or upload over the size limit |",
        "| 415 | a file type no loader reads |",
        "| 422 | a field is missing, unknown or out of range |",
        "",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in spec["paths"].items():
        for method in _METHODS:
            if method in item:
                op = item[method]
                by_tag.setdefault((op.get("tags") or ["other"])[0], []).append((method, path, op))
    for tag, ops in by_tag.items():
        out += [f"## {tag}", ""]
        for method, path, op in ops:
            out += [f"### `{method.upper()} {path}`", ""]
            if op.get("summary"):
                out += [op["summary"], ""]
            if op.get("description"):
                out += [" ".join(op["description"].split()), ""]
            params = [p for p in op.get("parameters", []) if p["in"] != "header"]
            if params:
                out += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
                for p in params:
                    out.append(
                        f"| `{p['name']}` | {p['in']} | {_type(p.get('schema', {}))} "
                        f"| {'yes' if p.get('required') else ''} | {_cell(p.get('description', ''))} |"
                    )
                out.append("")
            body = op.get("requestBody", {}).get("content", {})
            for ctype, media in body.items():
                out += [f"Request body (`{ctype}`): {_type(media.get('schema', {}))}", ""]
            responses = op.get("responses", {})
            ok = [f"{c} {r.get('description', '')}".strip() for c, r in responses.items() if c < "400"]
            errors = sorted(c for c in responses if c >= "400")
            out += [f"Responses: {'; '.join(ok)}" + (f"; errors {', '.join(errors)}" if errors else ""), ""]
    out += ["## Schemas", ""]
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        out += [f"### {name}", ""]
        if schema.get("description"):
            out += [" ".join(schema["description"].split()), ""]
        rows = _fields(schema)
        out += [*rows, ""] if rows else [f"Type: {_type(schema)}", ""]
    return "\n".join(out).rstrip() + "\n"


def main() -> None:  # pragma: no cover - console entry
    from pathlib import Path
    from tempfile import mkdtemp

    from ragline.server.app import create_app
    from ragline.settings import load_settings

    app = create_app(load_settings(data_dir=Path(mkdtemp())))
    sys.stdout.write(render(app.openapi()))


if __name__ == "__main__":  # pragma: no cover
    main()
