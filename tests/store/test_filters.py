from __future__ import annotations

import pytest

from ragline.errors import FilterError
from ragline.store.filters import (
    And,
    Compare,
    InList,
    Not,
    fields_of,
    matches,
    parse_filter,
    sql_literal,
    to_sql,
)


def test_bare_values_and_multiple_keys_mean_eq_and_and() -> None:
    f = parse_filter({"a": 1, "b": "x"})
    assert f == And((Compare("a", "$eq", 1), Compare("b", "$eq", "x")))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "empty filter"),
        ({"a": {"$regex": "x"}}, "unknown operator"),
        ({"$nor": []}, "unknown top-level"),
        ({"a": {"$in": []}}, "non-empty list"),
        ({"a": {"$in": "x"}}, "non-empty list"),
        ({"a": {"$exists": "yes"}}, "true or false"),
        ({"a": [1, 2]}, "filter values"),
        ({"a b": 1}, "invalid"),
        ({"$and": {}}, "non-empty list"),
        ({"a": {}}, "empty operator"),
        ({"x" * 257: 1}, "257 characters long; a field name has at most 256"),
    ],
)
def test_malformed_filters_name_the_problem(spec: object, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        parse_filter(spec)  # type: ignore[arg-type]


def test_string_literals_cannot_inject_sql() -> None:
    assert sql_literal("x' OR '1'='1") == "'x'' OR ''1''=''1'"
    sql = to_sql(parse_filter({"t": "a'b"}), lambda name: (f"`m_{name}`", "string"))
    assert sql == "(`m_t` = 'a''b')"


def test_ne_and_nin_match_missing_fields_like_mongodb() -> None:
    assert matches(parse_filter({"a": {"$ne": 1}}), {})
    assert matches(parse_filter({"a": {"$nin": [1]}}), {"a": None})
    assert not matches(parse_filter({"a": {"$gt": 1}}), {})
    assert matches(parse_filter({"$not": {"a": {"$gt": 1}}}), {})


def test_not_is_two_valued_in_sql() -> None:
    sql = to_sql(Not(Compare("a", "$gt", 1)), lambda n: ("`a`", "number"))
    assert sql == "(NOT COALESCE((`a` > 1), FALSE))"
    assert (
        to_sql(InList("a", (1, 2), True), lambda n: ("`a`", "number")) == "(`a` IS NULL OR `a` NOT IN (1, 2))"
    )


def test_missing_column_translates_to_constants() -> None:
    assert to_sql(parse_filter({"a": 1}), lambda n: None) == "FALSE"
    assert to_sql(parse_filter({"a": {"$ne": 1}}), lambda n: None) == "TRUE"
    assert to_sql(parse_filter({"a": {"$exists": False}}), lambda n: None) == "TRUE"


def test_type_mismatch_is_reported() -> None:
    with pytest.raises(FilterError, match="string values"):
        to_sql(parse_filter({"a": 3}), lambda n: ("`a`", "string"))
    with pytest.raises(FilterError, match="finite"):
        to_sql(parse_filter({"a": float("nan")}), lambda n: ("`a`", "number"))


def test_nesting_is_bounded_but_the_limit_itself_parses() -> None:
    spec: dict[str, object] = {"a": 1}
    for _ in range(10):
        spec = {"$not": spec}
    assert fields_of(parse_filter(spec)) == {"a"}
    with pytest.raises(FilterError, match="nested more than 10 levels"):
        parse_filter({"$not": spec})
    # $and, $or and a field's own $not count alike.
    field: dict[str, object] = {"$eq": 1}
    for _ in range(8):
        field = {"$not": field}
    with pytest.raises(FilterError, match="nested more than 10 levels"):
        parse_filter({"$and": [{"$or": [{"a": {"$not": field}}]}]})
    parse_filter({"x" * 256: 1})
