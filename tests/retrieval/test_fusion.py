"""ragline.retrieval.fusion: RRF, min-max normalisation and weighted fusion."""

from __future__ import annotations

import pytest

from ragline.errors import ConfigError
from ragline.retrieval.fusion import (
    min_max_normalize,
    reciprocal_rank_fusion,
    weighted_fusion,
    weighted_fusion_many,
    z_normalize,
    zscore_fusion,
    zscore_fusion_many,
)


def _approx(pairs: list[tuple[str, float]]) -> list[tuple[str, object]]:
    return [(doc, pytest.approx(score)) for doc, score in pairs]


class TestRrf:
    def test_hand_computed(self) -> None:
        got = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=60)
        assert got == _approx(
            [
                ("b", 1 / 62 + 1 / 61),
                ("a", 1 / 61),
                ("d", 1 / 62),
                ("c", 1 / 63),
            ]
        )
        assert [d for d, _ in got] == ["b", "a", "d", "c"]

    def test_default_k_is_60(self) -> None:
        assert reciprocal_rank_fusion([["a"]]) == _approx([("a", 1 / 61)])

    def test_small_k(self) -> None:
        assert reciprocal_rank_fusion([["a", "b"], ["b"]], k=1) == _approx(
            [("b", 1 / 3 + 1 / 2), ("a", 1 / 2)]
        )

    def test_ties_keep_first_appearance(self) -> None:
        # x and y are both rank 1 once, p and q rank 2 once: equal scores, input order wins.
        got = reciprocal_rank_fusion([["x", "p"], ["y", "q"]])
        assert [d for d, _ in got] == ["x", "y", "p", "q"]
        got = reciprocal_rank_fusion([["y", "q"], ["x", "p"]])
        assert [d for d, _ in got] == ["y", "x", "q", "p"]

    def test_weights(self) -> None:
        got = reciprocal_rank_fusion([["a", "b"], ["b", "a"]], k=10, weights=[2.0, 1.0])
        assert got == _approx([("a", 2 / 11 + 1 / 12), ("b", 2 / 12 + 1 / 11)])

    def test_zero_weight_keeps_candidates(self) -> None:
        got = reciprocal_rank_fusion([["a"], ["b"]], weights=[1.0, 0.0])
        assert got == _approx([("a", 1 / 61), ("b", 0.0)])

    def test_duplicate_within_ranking_counts_once_at_best_rank(self) -> None:
        assert reciprocal_rank_fusion([["a", "b", "a"]], k=1) == _approx([("a", 1 / 2), ("b", 1 / 3)])

    def test_empty(self) -> None:
        assert reciprocal_rank_fusion([]) == []
        assert reciprocal_rank_fusion([[], []]) == []
        assert reciprocal_rank_fusion([], weights=[]) == []

    @pytest.mark.parametrize("k", [0, -5])
    def test_invalid_k(self, k: int) -> None:
        with pytest.raises(ConfigError, match=f"k={k}"):
            reciprocal_rank_fusion([["a"]], k=k)

    def test_weights_length_mismatch(self) -> None:
        with pytest.raises(ConfigError, match="1 RRF weights for 2 rankings"):
            reciprocal_rank_fusion([["a"], ["b"]], weights=[1.0])

    @pytest.mark.parametrize("w", [-1.0, float("nan"), float("inf")])
    def test_invalid_weight(self, w: float) -> None:
        with pytest.raises(ConfigError, match="RRF weight 1"):
            reciprocal_rank_fusion([["a"], ["b"]], weights=[1.0, w])


class TestMinMax:
    def test_hand_computed(self) -> None:
        assert min_max_normalize({"a": 2.0, "b": 4.0, "c": 3.0}) == pytest.approx(
            {"a": 0.0, "b": 1.0, "c": 0.5}
        )

    def test_negative_scores(self) -> None:
        assert min_max_normalize({"a": -3.0, "b": -1.0}) == pytest.approx({"a": 0.0, "b": 1.0})

    def test_all_equal_is_one(self) -> None:
        assert min_max_normalize({"a": 0.3, "b": 0.3}) == {"a": 1.0, "b": 1.0}
        assert min_max_normalize({"a": -7.0}) == {"a": 1.0}

    def test_empty(self) -> None:
        assert min_max_normalize({}) == {}

    def test_non_finite_rejected(self) -> None:
        with pytest.raises(ConfigError, match="'a'"):
            min_max_normalize({"a": float("nan"), "b": 1.0})


class TestWeighted:
    def test_hand_computed(self) -> None:
        dense = {"a": 0.9, "b": 0.5, "c": 0.1}  # -> a 1.0, b 0.5, c 0.0
        keyword = {"b": 12.0, "d": 4.0}  # -> b 1.0, d 0.0
        got = weighted_fusion(dense, keyword, alpha=0.3)
        assert got == _approx(
            [
                ("b", 0.3 * 0.5 + 0.7 * 1.0),
                ("a", 0.3 * 1.0),
                ("c", 0.0),
                ("d", 0.0),
            ]
        )

    def test_alpha_extremes(self) -> None:
        dense = {"a": 1.0, "b": 0.0}
        keyword = {"b": 5.0, "a": 1.0}
        assert [d for d, _ in weighted_fusion(dense, keyword, alpha=1.0)] == ["a", "b"]
        assert [d for d, _ in weighted_fusion(dense, keyword, alpha=0.0)] == ["b", "a"]

    def test_missing_side_contributes_zero(self) -> None:
        got = weighted_fusion({"a": 2.0, "b": 1.0}, {"c": 3.0}, alpha=0.5)
        assert got == _approx([("a", 0.5), ("c", 0.5), ("b", 0.0)])

    def test_ties_keep_dense_then_keyword_order(self) -> None:
        got = weighted_fusion({"y": 1.0, "x": 1.0}, {"z": 1.0, "x": 1.0}, alpha=0.5)
        assert got == _approx([("x", 1.0), ("y", 0.5), ("z", 0.5)])

    def test_empty(self) -> None:
        assert weighted_fusion({}, {}, alpha=0.5) == []
        assert weighted_fusion({}, {"a": 2.0}, alpha=0.25) == _approx([("a", 0.75)])

    @pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan")])
    def test_invalid_alpha(self, alpha: float) -> None:
        with pytest.raises(ConfigError, match="alpha="):
            weighted_fusion({"a": 1.0}, {"a": 1.0}, alpha=alpha)


def test_z_normalize_has_zero_mean_unit_variance() -> None:
    z = z_normalize({"a": 1.0, "b": 2.0, "c": 6.0})
    assert sum(z.values()) == pytest.approx(0.0)
    assert sum(v * v for v in z.values()) / 3 == pytest.approx(1.0)
    assert z["c"] > z["b"] > z["a"]
    assert z_normalize({"a": 3.0, "b": 3.0}) == {"a": 0.0, "b": 0.0}
    assert z_normalize({}) == {}
    with pytest.raises(ConfigError, match="finite"):
        z_normalize({"a": float("nan")})


def test_zscore_fusion_by_hand() -> None:
    # dense: z(a)=1.2247, z(b)=0, z(c)=-1.2247; keyword: z(c)=1, z(d)=-1.
    dense = {"a": 0.9, "b": 0.6, "c": 0.3}
    keyword = {"c": 12.0, "d": 2.0}
    got = dict(zscore_fusion(dense, keyword, 0.5))
    r = 1.5**0.5
    assert got["a"] == pytest.approx(0.5 * r + 0.5 * -1.0)  # missing on keyword: its lowest z
    assert got["c"] == pytest.approx(0.5 * -r + 0.5 * 1.0)
    assert got["d"] == pytest.approx(0.5 * -r + 0.5 * -1.0)  # missing on dense: its lowest z
    assert [d for d, _ in zscore_fusion(dense, keyword, 1.0)][:3] == ["a", "b", "c"]
    assert zscore_fusion(dense, keyword, 0.0)[0][0] == "c"


def test_zscore_fusion_is_scale_free_unlike_raw_scores() -> None:
    dense = {"a": 0.81, "b": 0.80, "c": 0.20}
    keyword = {"a": 1.0, "b": 30.0, "c": 2.0}
    scaled = {k: v * 1000 + 7 for k, v in keyword.items()}
    a, b = zscore_fusion(dense, keyword, 0.5), zscore_fusion(dense, scaled, 0.5)
    assert [d for d, _ in a] == [d for d, _ in b]
    assert [s for _, s in a] == pytest.approx([s for _, s in b])
    with pytest.raises(ConfigError, match="alpha"):
        zscore_fusion(dense, keyword, 1.5)


class TestFusionOverManyLists:
    def test_two_lists_equal_the_two_list_functions(self) -> None:
        dense = {"a": 0.9, "b": 0.5, "c": 0.1}
        keyword = {"c": 9.0, "d": 4.0, "a": 1.0}
        assert zscore_fusion_many([dense, keyword], [0.3, 0.7]) == zscore_fusion(dense, keyword, 0.3)
        assert weighted_fusion_many([dense, keyword], [0.3, 0.7]) == weighted_fusion(dense, keyword, 0.3)

    def test_an_id_missing_from_a_list_gets_that_lists_floor(self) -> None:
        lists = [{"a": 2.0, "b": 0.0}, {"a": 1.0, "b": 3.0}, {"c": 5.0, "a": 1.0}]
        got = dict(zscore_fusion_many(lists, [1.0, 1.0, 2.0]))
        # z-scores: list 1 a=+1 b=-1; list 2 a=-1 b=+1; list 3 c=+1 a=-1. Missing -> the list's min.
        assert got == pytest.approx({"a": -2.0, "b": -2.0, "c": 0.0})
        mm = dict(weighted_fusion_many(lists, [1.0, 1.0, 2.0]))
        assert mm == pytest.approx({"a": 1.0, "b": 1.0, "c": 2.0})

    def test_weights_must_match_and_be_non_negative(self) -> None:
        with pytest.raises(ConfigError, match="2 fusion weights for 3 lists"):
            zscore_fusion_many([{}, {}, {}], [0.5, 0.5])
        with pytest.raises(ConfigError, match=r"fusion weight 1 is -0\.1"):
            weighted_fusion_many([{"a": 1.0}, {"a": 1.0}], [1.0, -0.1])
        assert zscore_fusion_many([], []) == []


def _sum_per_document(
    lists: list[dict[str, float]], weights: list[float], floors: list[float]
) -> list[tuple[str, float]]:
    """The weighted sums one document at a time, list by list, sorted stably: the reference the
    array form must equal to the last bit."""
    ids = dict.fromkeys(d for scores in lists for d in scores)
    fused = {d: sum(w * s.get(d, f) for s, w, f in zip(lists, weights, floors, strict=True)) for d in ids}
    return sorted(fused.items(), key=lambda item: -item[1])


def test_many_list_fusions_equal_the_per_document_sums_bit_for_bit() -> None:
    import random

    rng = random.Random(7)
    for _ in range(400):
        pool = [f"d{i}" for i in range(rng.randint(1, 200))]
        lists = [
            {d: rng.choice([1.0, 0.5, rng.gauss(0, 3)]) for d in rng.sample(pool, rng.randint(0, len(pool)))}
            for _ in range(rng.randint(1, 5))
        ]
        weights = [rng.choice([0.125, 0.25, 0.5, 0.0, rng.random()]) for _ in lists]
        z = [z_normalize(s) for s in lists]
        assert zscore_fusion_many(lists, weights) == _sum_per_document(
            z, weights, [min(s.values(), default=0.0) for s in z]
        )
        mm = [min_max_normalize(s) for s in lists]
        assert weighted_fusion_many(lists, weights) == _sum_per_document(mm, weights, [0.0] * len(lists))
