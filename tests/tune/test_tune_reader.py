"""`ragline tune answerer`: a tiny reader trained on a few pairs, loaded and read with; bad input
rejected with the line and the fix."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ragline.cli.main import app
from ragline.errors import ConfigError, DatasetError
from ragline.generation.reader import OnnxReader
from ragline.text.tokenizer import packaged_model_dir
from ragline.tune.reader import ReaderExample, read_examples, train_reader

PAIRS = [
    ("What port does the proxy listen on?", "The proxy listens on port 8080 by default.", "8080"),
    ("Who maintains the proxy?", "The proxy is maintained by the Network Team.", "the Network Team"),
    ("What is the cache size?", "The cache holds 512 entries unless configured.", "512 entries"),
    ("Which file holds the settings?", "Settings are read from proxy.toml at start-up.", "proxy.toml"),
    ("What is the cache size?", "The proxy is maintained by the Network Team.", ""),
    ("Who maintains the proxy?", "Settings are read from proxy.toml at start-up.", ""),
]


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.integration
def test_tune_answerer_trains_a_reader_that_loads_and_reads(tmp_path: Path) -> None:
    train = _write(
        tmp_path / "pairs.jsonl", [{"question": q, "context": c, "answer": a} for q, c, a in PAIRS]
    )
    out = tmp_path / "reader"
    result = CliRunner().invoke(
        app,
        [
            "tune",
            "answerer",
            str(train),
            "--out",
            str(out),
            "--max-steps",
            "2",
            "--batch-size",
            "3",
            "--checkpoint",
            str(tmp_path / "ck.pt"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["examples"] == 6 and report["steps"] == 2
    # The training state is kept for a later run to resume (a run that ends writes it too).
    assert (tmp_path / "ck.pt").is_file()
    meta = json.loads((out / "reader.json").read_text())
    assert meta["trained_on"] == str(train) and meta["answered"] == 4
    span = OnnxReader(out).read("What port does the proxy listen on?", [PAIRS[0][1]])[0]
    # Two steps teach it little; what must hold is that the exported graph runs and maps back.
    assert span is not None and PAIRS[0][1][span.start : span.end] == span.text and span.text


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"question": "q?", "context": "some text", "answer": "absent"},
            r":1: answer 'absent' is not in the context",
        ),
        (
            {"question": "", "context": "text", "answer": ""},
            r":1: field 'question' must be a non-empty string",
        ),
        (
            {"question": "q?", "context": "text", "answer": "text", "label": 1},
            r"unknown field\(s\) \['label'\]",
        ),
        ({"question": "q?", "context": "a text", "answer": "text", "answer_start": 0}, r"at answer_start 0"),
    ],
)
def test_read_examples_rejects_bad_rows_naming_line_and_fix(
    tmp_path: Path, row: dict[str, object], message: str
) -> None:
    with pytest.raises(DatasetError, match=message):
        read_examples(_write(tmp_path / "bad.jsonl", [row]))


def test_tune_answerer_rejects_a_bad_file_with_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q?", "context": "c"}\nnot json\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["tune", "answerer", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    shown = "".join(result.output.split())
    assert "field'answer'mustbeastring" in shown and "bad.jsonl:1" in shown
    assert not (tmp_path / "o").exists()
    missing = CliRunner().invoke(
        app, ["tune", "answerer", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")]
    )
    # The console wraps long paths at its width: read the output unwrapped.
    assert missing.exit_code != 0 and "does not exist" in " ".join(missing.output.split())


def test_tune_answerer_needs_answered_examples(tmp_path: Path) -> None:
    train = _write(tmp_path / "none.jsonl", [{"question": "q?", "context": "c", "answer": ""}] * 3)
    result = CliRunner().invoke(app, ["tune", "answerer", str(train), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and "only 0 examples with an answer" in result.output


def _examples() -> list[ReaderExample]:
    return [ReaderExample(q, c, a, c.find(a) if a else -1) for q, c, a in PAIRS]


@pytest.mark.integration
def test_train_reader_resumes_a_checkpoint_exactly_where_the_run_stopped(tmp_path: Path) -> None:
    """A run stopped at step 2 and resumed takes the same steps (batches, learning rate,
    optimizer moments, dropout) as one that never stopped, and stops at the new max_steps."""
    losses: dict[str, list[tuple[int, float]]] = {"full": [], "resumed": []}

    def record(run: str) -> Callable[[int, int, float], None]:
        return lambda step, _total, loss: losses[run].append((step, loss))

    ck = tmp_path / "ck.pt"
    kwargs: dict[str, Any] = {
        "batch_size": 2,
        "epochs": 2,
        "max_steps": 4,
        "quantize": False,
        "checkpoint_every": 2,
    }
    full = train_reader(
        packaged_model_dir(),
        _examples(),
        tmp_path / "a",
        checkpoint=ck,
        keep_checkpoints=True,
        progress=record("full"),
        **kwargs,
    )
    assert full.steps == 4 and (tmp_path / "ck-2.pt").is_file() and (tmp_path / "ck-4.pt").is_file()
    resumed_ck = tmp_path / "resume.pt"
    resumed_ck.write_bytes((tmp_path / "ck-2.pt").read_bytes())
    resumed = train_reader(
        packaged_model_dir(),
        _examples(),
        tmp_path / "b",
        checkpoint=resumed_ck,
        progress=record("resumed"),
        **kwargs,
    )
    assert resumed.steps == 4 and [s for s, _ in losses["resumed"]] == [3, 4]
    # Step 4 opens the second epoch: its batches are reshuffled as in the run that never stopped.
    assert [loss for _, loss in losses["resumed"]] == pytest.approx(
        [loss for _, loss in losses["full"][2:]], abs=1e-4
    )
    assert json.loads((tmp_path / "b" / "reader.json").read_text())["steps"] == 4

    # A checkpoint of another run, or one already at the end, is refused with what to change.
    with pytest.raises(ConfigError, match=r"batch_size 2 \(now 3\).*delete the checkpoint"):
        train_reader(packaged_model_dir(), _examples(), tmp_path / "c", checkpoint=ck, batch_size=3)
    with pytest.raises(ConfigError, match=r"at step 4, and this run has 4 steps; raise max_steps"):
        train_reader(packaged_model_dir(), _examples(), tmp_path / "c", checkpoint=ck, **kwargs)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match=r"cannot read checkpoint .*junk.pt.*delete it"):
        train_reader(packaged_model_dir(), _examples(), tmp_path / "c", checkpoint=tmp_path / "junk.pt")


@pytest.mark.integration
def test_train_reader_init_starts_a_new_round_from_an_earlier_runs_weights(tmp_path: Path) -> None:
    """``init`` loads another run's weights (other examples, other batch size) and trains a fresh
    schedule on this run's examples: its first loss is the trained model's, not the base model's."""
    first_losses: list[float] = []
    ck = tmp_path / "first.pt"
    train_reader(
        packaged_model_dir(),
        _examples(),
        tmp_path / "a",
        batch_size=2,
        epochs=8,
        quantize=False,
        checkpoint=ck,
        progress=lambda _s, _t, loss: first_losses.append(loss),
    )
    unanswered = ReaderExample("What is the cache size?", "Settings are read from proxy.toml.", "", -1)
    more = [*_examples(), unanswered]
    losses: dict[str, list[tuple[int, float]]] = {"init": [], "base": []}
    for run, init in (("init", ck), ("base", None)):
        report = train_reader(
            packaged_model_dir(),
            more,
            tmp_path / run,
            batch_size=7,
            max_steps=1,
            quantize=False,
            init=init,
            progress=lambda s, _t, loss, run=run: losses[run].append((s, loss)),
        )
        assert report.steps == 1
    # A fresh schedule: step 1 of 1, on the weights that learned the pairs (lower loss than base).
    assert [s for s, _ in losses["init"]] == [1]
    assert losses["init"][0][1] < 0.5 * losses["base"][0][1]
    with pytest.raises(ConfigError, match=r"checkpoint .*missing.pt.* does not exist"):
        train_reader(packaged_model_dir(), more, tmp_path / "c", init=tmp_path / "missing.pt")


@pytest.mark.integration
def test_export_quantises_per_channel_with_row_scaled_embeddings_close_to_fp32(tmp_path: Path) -> None:
    """The int8 export records its scheme in reader.json and reads as the fp32 graph does."""
    import numpy as np

    from ragline.tune.reader import QUANTIZATION, export_checkpoint

    ck = tmp_path / "ck.pt"
    train_reader(
        packaged_model_dir(),
        _examples(),
        tmp_path / "fp32",
        batch_size=3,
        max_steps=2,
        quantize=False,
        checkpoint=ck,
    )
    export_checkpoint(packaged_model_dir(), ck, tmp_path / "int8", meta={"trained_on": "six pairs"})
    meta = json.loads((tmp_path / "int8" / "reader.json").read_text())
    assert meta["quantized"] is True and meta["quantization"] == QUANTIZATION and meta["steps"] == 2
    assert json.loads((tmp_path / "fp32" / "reader.json").read_text())["quantization"] is None
    assert (tmp_path / "int8" / "reader.onnx").stat().st_size < 0.3 * (
        tmp_path / "fp32" / "reader.onnx"
    ).stat().st_size
    fp32, int8 = OnnxReader(tmp_path / "fp32"), OnnxReader(tmp_path / "int8")
    for q, c, _ in PAIRS:
        windows = fp32.featurizer.windows(q, [c])
        for a, b in zip(fp32.logits(windows), int8.logits(windows), strict=True):
            assert float(np.abs(np.hstack(a) - np.hstack(b)).max()) < 0.25


def test_quantize_reader_rejects_a_graph_without_word_embeddings(tmp_path: Path) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from ragline.errors import EmbeddingError
    from ragline.tune.reader import quantize_reader

    w = numpy_helper.from_array(np.ones((4, 4), dtype=np.float32), "dense.weight")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "dense.weight"], ["y"])],
        "plain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [w],
    )
    onnx.save(helper.make_model(graph), str(tmp_path / "plain.onnx"))
    with pytest.raises(
        EmbeddingError, match=r"expected one word-embedding lookup .* found 0; the reader must"
    ):
        quantize_reader(tmp_path / "plain.onnx", tmp_path / "out.onnx")


def test_train_reader_rejects_a_negative_answer_loss(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"answer_loss must be 0 or more .* got -1.0"):
        train_reader(packaged_model_dir(), _examples(), tmp_path / "o", answer_loss=-1.0)
