"""CrossEncoderReranker on a tiny BERT cross-encoder that the test builds and trains itself.

The toy task: a passage is relevant when it contains the query word. The model (2 layers of width
32) learns it in a few hundred steps; training stops once a held-out batch is classified almost
perfectly, then the model is saved with ``save_pretrained`` and loaded back through the reranker.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from ragline.errors import ConfigError
from ragline.rerank.cross_encoder import CrossEncoderReranker

from . import make_hit, make_hits, texts

pytestmark = pytest.mark.slow

WORDS = [
    "apple",
    "banana",
    "cherry",
    "grape",
    "lemon",
    "mango",
    "olive",
    "peach",
    "pear",
    "plum",
    "kiwi",
    "lime",
]
PASSAGE_WORDS = 3

# (query, passages, the relevant passage): none of these (query, passage) pairs is trained on.
HELD_OUT = [
    (
        "apple",
        ["banana cherry grape", "lemon mango olive", "pear apple plum", "kiwi lime peach"],
        "pear apple plum",
    ),
    ("lime", ["lime kiwi banana", "apple cherry grape", "olive peach pear"], "lime kiwi banana"),
    (
        "mango",
        ["apple pear plum", "grape lemon kiwi", "olive cherry lime", "peach banana mango"],
        "peach banana mango",
    ),
    ("peach", ["cherry lemon apple", "grape peach olive", "kiwi lime mango"], "grape peach olive"),
]
_HELD_OUT_PAIRS = {(q, frozenset(p.split())) for q, passages, _ in HELD_OUT for p in passages}


def _example(rng: random.Random) -> tuple[str, str, float]:
    while True:
        query = rng.choice(WORDS)
        passage = rng.sample([w for w in WORDS if w != query], PASSAGE_WORDS)
        relevant = rng.random() < 0.5
        if relevant:
            passage[rng.randrange(PASSAGE_WORDS)] = query
        if (query, frozenset(passage)) not in _HELD_OUT_PAIRS:
            return query, " ".join(passage), float(relevant)


def _tokenizer(vocab_file: Path):
    import transformers
    from transformers import BertTokenizerFast

    # transformers 5 renamed the argument (and ignores the old name).
    if int(transformers.__version__.split(".")[0]) >= 5:
        return BertTokenizerFast(vocab=str(vocab_file))
    return BertTokenizerFast(vocab_file=str(vocab_file))


def train_tiny_cross_encoder(out: Path, seed: int = 3, max_steps: int = 1500) -> int:
    """Train and save a tiny BERT cross-encoder into ``out``; returns the steps it took."""
    torch = pytest.importorskip("torch")
    from transformers import BertConfig, BertForSequenceClassification

    out.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = _tokenizer(out / "vocab.txt")
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=32,
        num_labels=1,
        # No dropout and a wider initialisation than BERT's 0.02: a tiny model from scratch learns
        # the token-matching attention it needs far sooner this way.
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        initializer_range=0.1,
    )
    threads = torch.get_num_threads()
    # One thread: a model this small is dominated by per-op overhead, not arithmetic.
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        rng = random.Random(seed)
        model = BertForSequenceClassification(config)
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)

        def batch(n: int):
            examples = [_example(rng) for _ in range(n)]
            enc = tokenizer(
                [e[0] for e in examples], [e[1] for e in examples], padding=True, return_tensors="pt"
            )
            return enc, torch.tensor([e[2] for e in examples])

        check_enc, check_labels = batch(256)
        steps = 0
        while steps < max_steps:
            enc, labels = batch(64)
            logits = model(**enc).logits.squeeze(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
            if steps % 25 == 0:
                with torch.no_grad():
                    predicted = (model(**check_enc).logits.squeeze(-1) > 0).float()
                if (predicted == check_labels).float().mean().item() >= 0.98:
                    break
    finally:
        torch.set_num_threads(threads)
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return steps


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> Path:
    pytest.importorskip("sentence_transformers")
    path = tmp_path_factory.mktemp("tiny-cross-encoder")
    steps = train_tiny_cross_encoder(path)
    assert steps < 1500, "the tiny cross-encoder did not learn the toy task"
    return path


def test_ranks_the_passage_containing_the_query_word_first(tiny_cross_encoder):
    reranker = CrossEncoderReranker(tiny_cross_encoder, batch_size=2)
    for query, passages, relevant in HELD_OUT:
        hits = make_hits(*passages)
        ranked = reranker.run(query, hits, top_k=len(hits))
        assert ranked[0].chunk.text == relevant, (query, texts(ranked))
        scores = [h.score for h in ranked]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= s <= 1.0 for s in scores)  # sigmoid-activated single logit
        assert ranked[0].score > ranked[1].score


def test_keeps_first_stage_evidence_and_honours_top_k(tiny_cross_encoder):
    reranker = CrossEncoderReranker(tiny_cross_encoder)
    query, passages, relevant = HELD_OUT[0]
    hits = make_hits(*passages)
    ranked = reranker.run(query, hits, top_k=2)
    assert len(ranked) == 2
    assert ranked[0].chunk.text == relevant
    original = {h.chunk.id: h for h in hits}
    for h in ranked:
        assert h.retrievers == original[h.chunk.id].retrievers
        assert h.chunk == original[h.chunk.id].chunk
    assert reranker.run(query, [], top_k=3) == []


def test_model_loads_lazily(tiny_cross_encoder):
    reranker = CrossEncoderReranker(tiny_cross_encoder)
    assert "_model" not in reranker.__dict__
    assert reranker.run("apple", [], top_k=1) == []
    assert "_model" not in reranker.__dict__  # empty input never loads the model
    reranker.run("apple", [make_hit("pear apple plum")], top_k=1)
    assert "_model" in reranker.__dict__


def test_missing_path_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"is not a directory.*cross-encoder"):
        CrossEncoderReranker(tmp_path / "nowhere")


def test_directory_without_config_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"no config\.json"):
        CrossEncoderReranker(tmp_path)


def test_bi_encoder_is_rejected_as_not_a_cross_encoder():
    from ragline.text.tokenizer import packaged_model_dir

    with pytest.raises(ConfigError, match=r"not a cross-encoder.*BertModel.*embedding\.model_path"):
        CrossEncoderReranker(packaged_model_dir())


def test_classifier_with_two_labels_is_rejected(tmp_path):
    config = {"architectures": ["BertForSequenceClassification"], "id2label": {"0": "no", "1": "yes"}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="2 output labels"):
        CrossEncoderReranker(tmp_path)


def test_bad_arguments_are_config_errors(tiny_cross_encoder):
    with pytest.raises(ConfigError, match="batch_size"):
        CrossEncoderReranker(tiny_cross_encoder, batch_size=0)
    with pytest.raises(ConfigError, match="top_k"):
        CrossEncoderReranker(tiny_cross_encoder).run("apple", make_hits("apple"), top_k=0)
