"""What a cache key is made of: the scope of a result (tenant, access, collection version,
settings, request) and the query text.

Example::

    scope = Scope("search", "acme", access_fingerprint(p), "docs", version, fp, request)
    key = scope.key("how to install")
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import BaseModel

from ragline.store.filters import And, Compare, Exists, Filter, InList, Not, Or, Visible
from ragline.types import Principal


def access_fingerprint(principal: Principal | None) -> str:
    """Everything that decides what ``principal`` may read (:meth:`Principal.can_read`): tenant,
    the set of groups, clearance. A local caller (None, no access filter) is its own scope."""
    if principal is None:
        return "local"
    return json.dumps([principal.tenant, sorted(set(principal.groups)), principal.clearance])


def _value(v: object) -> str:
    # JSON keeps 1, 1.0 and true apart: filters on them may match different rows.
    return json.dumps(v)


def filter_fingerprint(f: Filter | None) -> str:
    """A canonical form of a parsed filter: the parts of ``$and``/``$or`` and the values of
    ``$in`` sorted and deduplicated, so filters that mean the same give the same key."""
    if f is None:
        return ""
    if isinstance(f, Compare):
        return f"cmp({_value(f.field)},{f.op},{_value(f.value)})"
    if isinstance(f, InList):
        values = ",".join(sorted({_value(v) for v in f.values}))
        return f"{'nin' if f.negate else 'in'}({_value(f.field)},[{values}])"
    if isinstance(f, Exists):
        return f"exists({_value(f.field)},{f.exists})"
    if isinstance(f, And | Or):
        parts = ",".join(sorted({filter_fingerprint(p) for p in f.parts}))
        return f"{'and' if isinstance(f, And) else 'or'}({parts})"
    if isinstance(f, Not):
        return f"not({filter_fingerprint(f.part)})"
    if isinstance(f, Visible):
        return f"visible({access_fingerprint(f.principal)})"
    raise TypeError(f"not a filter: {f!r}")


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items() if k != "api_key"}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


def settings_fingerprint(*parts: BaseModel | str) -> str:
    """A short hash of settings groups and strings (model ids); API keys are left out."""
    dumped = [p if isinstance(p, str) else _without_secrets(p.model_dump(mode="json")) for p in parts]
    return hashlib.sha256(json.dumps(dumped, sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Scope:
    """Everything a cached result depends on except the query text: what kind of result, whose
    (tenant, access fingerprint), of which collection at which version, under which settings,
    and the rest of the request (mode, top_k, filters, debug)."""

    kind: str
    tenant: str
    access: str
    collection: str
    version: str
    settings: str
    request: str

    @cached_property
    def digest(self) -> str:
        fields = [self.kind, self.tenant, self.access, self.collection, self.version, self.settings]
        return hashlib.sha256(json.dumps([*fields, self.request]).encode()).hexdigest()

    def key(self, text: str) -> str:
        """The key of the result for ``text`` in this scope."""
        h = hashlib.sha256(f"{self.digest}\x00{text}".encode()).hexdigest()
        return f"{self.kind}:{h}"

    @property
    def semantic_key(self) -> str:
        """The key of this scope's list of cached questions (the semantic cache)."""
        return f"{self.kind}-questions:{self.digest}"
