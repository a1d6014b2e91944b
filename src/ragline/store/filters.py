"""The metadata filter language, its validation, SQL translation and a reference evaluator.

Filters are JSON-like, in the style of MongoDB::

    {"year": {"$gte": 2015}, "doc_type": {"$in": ["paper", "report"]}}
    {"$or": [{"lang": "en"}, {"$not": {"draft": true}}]}

A bare value means ``$eq``; several keys in one object are joined with AND. Operators:
``$eq $ne $in $nin $gt $gte $lt $lte $exists $and $or $not``. As in MongoDB, ``$ne`` and ``$nin``
also match documents that lack the field. Filters are parsed once into a small tree
(:func:`parse_filter`), then translated to the store's own prefilter (:func:`to_sql`) so that a
top-k never comes back short; :func:`matches` evaluates the same tree in Python and is the
reference the store backends are tested against.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ragline.errors import FilterError
from ragline.types import Access, Principal

Scalar = str | int | float | bool
CompareOp = Literal["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]
_COMPARE: tuple[str, ...] = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")
_ALL_OPS = (*_COMPARE, "$in", "$nin", "$exists", "$and", "$or", "$not")
FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Bounds on what a caller may send. Depth counts every $and, $or and $not on the way down: the
# store's SQL parser gives up near 15 nested $not (each one is three levels of parentheses), so
# 10 leaves room for the access predicate the engine adds. Real filters are 2-3 levels deep.
MAX_DEPTH = 10
MAX_FIELD_CHARS = 256


@dataclass(frozen=True, slots=True)
class Compare:
    field: str
    op: CompareOp
    value: Scalar


@dataclass(frozen=True, slots=True)
class InList:
    field: str
    values: tuple[Scalar, ...]
    negate: bool


@dataclass(frozen=True, slots=True)
class Exists:
    field: str
    exists: bool


@dataclass(frozen=True, slots=True)
class And:
    parts: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    parts: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Not:
    part: Filter


@dataclass(frozen=True, slots=True)
class Visible:
    """Access control: only chunks ``principal`` may read (see :meth:`Principal.can_read`).

    Never produced by :func:`parse_filter`, so a caller's filter JSON cannot express or widen it;
    the engine ANDs it onto every search made for a principal.
    """

    principal: Principal


Filter = Compare | InList | Exists | And | Or | Not | Visible
# Columns every store keeps for access control (see ragline.types.Access).
ACL_TENANT, ACL_GROUPS, ACL_CLEARANCE = "acl_tenant", "acl_groups", "acl_clearance"


def _scalar(value: Any, where: str) -> Scalar:
    if isinstance(value, str | bool | int | float):
        return value
    raise FilterError(
        f"{where}: {value!r} is a {type(value).__name__}; filter values must be strings, numbers or booleans"
    )


def _check_depth(depth: int) -> None:
    if depth > MAX_DEPTH:
        raise FilterError(
            f"the filter is nested more than {MAX_DEPTH} levels deep ($and, $or and $not count); "
            "flatten it, e.g. several keys in one object instead of nested $and, $in instead of $or"
        )


def _field_ops(field: str, spec: Any, depth: int) -> Filter:
    _check_depth(depth)
    if len(field) > MAX_FIELD_CHARS:
        raise FilterError(
            f"field name {field[:40]!r}... is {len(field)} characters long; "
            f"a field name has at most {MAX_FIELD_CHARS}"
        )
    if not FIELD_RE.match(field):
        raise FilterError(
            f"field name {field!r} is invalid; use letters, digits and underscores (operators start with $)"
        )
    if not isinstance(spec, Mapping):
        return Compare(field, "$eq", _scalar(spec, field))
    if not spec:
        raise FilterError(f"{field}: empty operator object {{}}; give e.g. {{'$eq': value}}")
    parts: list[Filter] = []
    for op, arg in spec.items():
        if op in _COMPARE:
            parts.append(Compare(field, op, _scalar(arg, f"{field}.{op}")))
        elif op in ("$in", "$nin"):
            if not isinstance(arg, list | tuple) or not arg:
                raise FilterError(f"{field}.{op} needs a non-empty list of values, got {arg!r}")
            parts.append(InList(field, tuple(_scalar(v, f"{field}.{op}") for v in arg), op == "$nin"))
        elif op == "$exists":
            if not isinstance(arg, bool):
                raise FilterError(f"{field}.$exists needs true or false, got {arg!r}")
            parts.append(Exists(field, arg))
        elif op == "$not":
            parts.append(Not(_field_ops(field, arg, depth + 1)))
        else:
            raise FilterError(f"{field}: unknown operator {op!r}; use one of {', '.join(_ALL_OPS)}")
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def parse_filter(spec: Mapping[str, Any], _depth: int = 0) -> Filter:
    """Parse and validate a filter object; raises :class:`FilterError` naming the bad part."""
    _check_depth(_depth)
    if not isinstance(spec, Mapping):
        raise FilterError(f"a filter must be a JSON object, got {type(spec).__name__}: {spec!r}")
    if not spec:
        raise FilterError("empty filter {}; pass no filter instead")
    parts: list[Filter] = []
    for key, value in spec.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list | tuple) or not value:
                raise FilterError(f"{key} needs a non-empty list of filter objects, got {value!r}")
            subs = tuple(parse_filter(v, _depth + 1) for v in value)
            parts.append(And(subs) if key == "$and" else Or(subs))
        elif key == "$not":
            parts.append(Not(parse_filter(value, _depth + 1)))
        elif key.startswith("$"):
            raise FilterError(f"unknown top-level operator {key!r}; use $and, $or, $not or a field name")
        else:
            parts.append(_field_ops(key, value, _depth))
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def fields_of(f: Filter) -> set[str]:
    """Every field name a filter refers to."""
    if isinstance(f, Compare | InList | Exists):
        return {f.field}
    if isinstance(f, Visible):
        return set()
    if isinstance(f, Not):
        return fields_of(f.part)
    return set().union(*(fields_of(p) for p in f.parts))


# --- SQL translation --------------------------------------------------------------------------


def sql_literal(value: Scalar) -> str:
    """A SQL literal; strings are single-quoted with quotes doubled."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise FilterError(f"filter value {value!r} is not a finite number")
        return repr(value)
    return "'" + value.replace("'", "''") + "'"


_SQL_OPS = {"$eq": "=", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
ColumnKind = Literal["string", "number", "bool"]


def _check_type(field: str, kind: ColumnKind, value: Scalar) -> None:
    ok = (
        (kind == "string" and isinstance(value, str))
        or (kind == "bool" and isinstance(value, bool))
        or (kind == "number" and isinstance(value, int | float) and not isinstance(value, bool))
    )
    if not ok:
        raise FilterError(
            f"field {field!r} holds {kind} values but the filter compares it with {value!r}; "
            f"use a {kind} value"
        )


def to_sql(f: Filter, column: Callable[[str], tuple[str, ColumnKind] | None]) -> str:
    """Translate a filter to a SQL predicate.

    ``column(field)`` returns the quoted column name and its kind, or None when no document has
    that field (then comparisons are false, ``$ne``/``$nin`` true, ``$exists`` decides).
    """
    if isinstance(f, And | Or):
        joiner = " AND " if isinstance(f, And) else " OR "
        return "(" + joiner.join(to_sql(p, column) for p in f.parts) + ")"
    if isinstance(f, Not):
        # NOT NULL is NULL in SQL; coalescing keeps the logic two-valued like the reference.
        return f"(NOT COALESCE({to_sql(f.part, column)}, FALSE))"
    if isinstance(f, Visible):
        return visible_sql(f.principal)
    col = column(f.field)
    if isinstance(f, Exists):
        if col is None:
            return "FALSE" if f.exists else "TRUE"
        return f"({col[0]} IS {'NOT ' if f.exists else ''}NULL)"
    if col is None:
        missing_matches = (isinstance(f, Compare) and f.op == "$ne") or (isinstance(f, InList) and f.negate)
        return "TRUE" if missing_matches else "FALSE"
    name, kind = col
    if isinstance(f, Compare):
        _check_type(f.field, kind, f.value)
        expr = f"{name} {_SQL_OPS[f.op]} {sql_literal(f.value)}"
        return f"({name} IS NULL OR {expr})" if f.op == "$ne" else f"({expr})"
    for v in f.values:
        _check_type(f.field, kind, v)
    listed = ", ".join(sql_literal(v) for v in f.values)
    if f.negate:
        return f"({name} IS NULL OR {name} NOT IN ({listed}))"
    return f"({name} IN ({listed}))"


def visible_sql(p: Principal) -> str:
    """The ACL predicate: same tenant, a shared group (or an unrestricted document), clearance."""
    groups = (
        f" OR array_has_any(`{ACL_GROUPS}`, [{', '.join(sql_literal(g) for g in p.groups)}])"
        if p.groups
        else ""
    )
    return (
        f"(`{ACL_TENANT}` = {sql_literal(p.tenant)}"
        f" AND (array_length(`{ACL_GROUPS}`) = 0{groups})"
        f" AND `{ACL_CLEARANCE}` <= {int(p.clearance)})"
    )


# --- reference evaluator ----------------------------------------------------------------------


def _cmp(op: CompareOp, a: Scalar, b: Scalar) -> bool:
    if op == "$eq":
        return a == b
    if op == "$ne":
        return a != b
    if isinstance(a, str) != isinstance(b, str):
        return False
    if op == "$gt":
        return a > b  # type: ignore[operator]
    if op == "$gte":
        return a >= b  # type: ignore[operator]
    if op == "$lt":
        return a < b  # type: ignore[operator]
    return a <= b  # type: ignore[operator]


def matches(f: Filter, metadata: Mapping[str, Scalar | None], access: Access | None = None) -> bool:
    """Whether a document with ``metadata`` (and ``access``) passes ``f``.

    Missing and None mean "no value"; a missing ``access`` is the default tenant's, unrestricted.
    """
    if isinstance(f, And):
        return all(matches(p, metadata, access) for p in f.parts)
    if isinstance(f, Or):
        return any(matches(p, metadata, access) for p in f.parts)
    if isinstance(f, Not):
        return not matches(f.part, metadata, access)
    if isinstance(f, Visible):
        return f.principal.can_read(access or Access())
    value = metadata.get(f.field)
    if isinstance(f, Exists):
        return (value is not None) == f.exists
    if value is None:
        return (isinstance(f, Compare) and f.op == "$ne") or (isinstance(f, InList) and f.negate)
    if isinstance(f, Compare):
        return _cmp(f.op, value, f.value)
    return (value in f.values) != f.negate


def coerce_filter(filters: Filter | Mapping[str, Any] | str | None) -> Filter | None:
    """Accept a parsed filter, a mapping, or a JSON string (as the CLI passes it)."""
    if filters is None or isinstance(filters, And | Or | Not | Compare | InList | Exists | Visible):
        return filters
    if isinstance(filters, str):
        try:
            filters = json.loads(filters)
        except json.JSONDecodeError as exc:
            raise FilterError(
                f"filter is not valid JSON ({exc.msg} at column {exc.colno}): {filters!r}; "
                'write it like {"year": {"$gte": 2020}}'
            ) from None
    if not isinstance(filters, Mapping):
        raise FilterError(f"a filter must be a JSON object, got {filters!r}")
    return parse_filter(filters)


def scope_filter(
    filters: Filter | Mapping[str, Any] | str | None, principal: Principal | None
) -> Filter | None:
    """``filters`` narrowed to what ``principal`` may read (unchanged when there is no principal)."""
    parsed = coerce_filter(filters)
    if principal is None:
        return parsed
    visible = Visible(principal)
    return visible if parsed is None else And((visible, parsed))
