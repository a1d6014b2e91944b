"""Training the extractive reader (:mod:`ragline.generation.reader`) from question/answer pairs.

Each example is a question, a context and the answer as it appears in the context (or an empty
answer: the context does not answer it). The encoder starts from a sentence-transformers BERT model
(the packaged all-MiniLM-L6-v2 by default) and learns a span head (cross-entropy on the answer's
first and last token; windows without the answer point at [CLS], as in Devlin et al. 2019 for
SQuAD 2.0) and an answer head on [CLS] (binary cross-entropy). The result is exported to ONNX and
quantised to int8 (dynamic, per-channel linear layers, one scale per word-embedding row: see
:data:`QUANTIZATION`), beside a JSON of its settings and the tokenizer, which is everything
:class:`ragline.generation.reader.OnnxReader` loads.

Example::

    examples = read_examples(Path("pairs.jsonl"))
    report = train_reader(packaged_model_dir(), examples, Path("my-reader"), epochs=1)
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragline.embedding.quantize import QUANTIZATION, quantize_int8
from ragline.errors import ConfigError, DatasetError, EmbeddingError
from ragline.generation.reader import META_FILE, MODEL_FILE, TOKENIZER_FILE, Featurizer, Window, pad

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReaderExample:
    """A question, a context, and the answer's character offset in it (``answer == ""``: none)."""

    question: str
    context: str
    answer: str = ""
    answer_start: int = -1


@dataclass(frozen=True, slots=True)
class ReaderReport:
    examples: int
    windows: int
    steps: int
    seconds: float
    final_loss: float
    model_dir: Path


def read_examples(path: Path) -> list[ReaderExample]:
    """Examples from a JSONL file of ``{"question", "context", "answer"[, "answer_start"]}``.

    ``answer`` must occur in ``context`` (at ``answer_start`` when given, else its first
    occurrence); an empty ``answer`` marks a context that does not answer the question.
    """
    if not path.is_file():
        raise DatasetError(
            f"training file {str(path)!r} does not exist; pass a JSONL file of question/context/answer"
        )
    out: list[ReaderExample] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(
                f"{path}:{lineno}: not JSON ({exc.msg}); each line must be one JSON object"
            ) from None
        if not isinstance(obj, dict):
            raise DatasetError(f"{path}:{lineno}: expected an object with question, context and answer")
        fields = {k: obj.get(k) for k in ("question", "context", "answer")}
        for k, v in fields.items():
            if not isinstance(v, str) or (k != "answer" and not v.strip()):
                raise DatasetError(
                    f"{path}:{lineno}: field {k!r} must be a "
                    f"{'string' if k == 'answer' else 'non-empty string'}, got {v!r:.80}; each line needs "
                    "question, context and answer ('' when the context does not answer)"
                )
        extra = set(obj) - {"question", "context", "answer", "answer_start"}
        if extra:
            raise DatasetError(
                f"{path}:{lineno}: unknown field(s) {sorted(extra)}; "
                "allowed: question, context, answer, answer_start"
            )
        q, ctx, ans = str(fields["question"]), str(fields["context"]), str(fields["answer"])
        start = obj.get("answer_start")
        if ans:
            if start is None:
                start = ctx.find(ans)
            if not isinstance(start, int) or start < 0 or ctx[start : start + len(ans)] != ans:
                raise DatasetError(
                    f"{path}:{lineno}: answer {ans!r:.80} is not in the context"
                    + (f" at answer_start {start}" if obj.get("answer_start") is not None else "")
                    + "; the answer must be copied from the context verbatim"
                )
        else:
            start = -1
        out.append(ReaderExample(q, ctx, ans, int(start)))
    if not out:
        raise DatasetError(f"{path} holds no examples")
    return out


def label_windows(
    featurizer: Featurizer, examples: Sequence[ReaderExample], rng: random.Random | None = None
) -> list[tuple[Window, int, int, int]]:
    """Each example's windows with (start token, end token, answered): (0, 0, 0) without answer.

    With ``rng``, one window per example: one that holds the answer (or any, for an example
    without one), so a long context costs one window rather than all of them.
    """
    out: list[tuple[Window, int, int, int]] = []
    for ex in examples:
        a, b = ex.answer_start, ex.answer_start + len(ex.answer)
        rows: list[tuple[Window, int, int, int]] = []
        for w in featurizer.windows(ex.question, [ex.context]):
            s = e = 0
            if ex.answer:
                toks = [i for i, (x, y) in enumerate(w.offsets) if x >= 0 and y > a and x < b]
                inside = toks and w.offsets[toks[0]][0] <= a and w.offsets[toks[-1]][1] >= b
                if inside:
                    s, e = toks[0], toks[-1]
            rows.append((w, s, e, int(s > 0)))
        if rng is None:
            out.extend(rows)
            continue
        pool = [r for r in rows if r[3]] or rows
        out.append(pool[rng.randrange(len(pool))])
    return out


def _batches(
    data: list[tuple[Window, int, int, int]], batch_size: int, rng: random.Random
) -> list[list[tuple[Window, int, int, int]]]:
    """Shuffled batches of similar lengths (padding is most of the cost of a mixed batch)."""
    order = list(range(len(data)))
    rng.shuffle(order)
    out: list[list[tuple[Window, int, int, int]]] = []
    block = 8 * batch_size
    for i in range(0, len(order), block):
        part = sorted(order[i : i + block], key=lambda j: len(data[j][0].ids))
        out.extend([data[j] for j in part[k : k + batch_size]] for k in range(0, len(part), batch_size))
    rng.shuffle(out)
    return out


def _heads(torch: Any, encoder: Any) -> Any:
    hidden = int(encoder.config.hidden_size)

    class ReaderNet(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.span = torch.nn.Linear(hidden, 2)
            self.answer = torch.nn.Linear(hidden, 1)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            h = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            logits = self.span(h)
            # Padding never holds the answer.
            pad_mask = (1 - attention_mask).to(h.dtype) * -1e4
            return logits[..., 0] + pad_mask, logits[..., 1] + pad_mask, self.answer(h[:, 0]).squeeze(-1)

    return ReaderNet()


def train_reader(
    base_model: Path,
    examples: Sequence[ReaderExample],
    out_dir: Path,
    *,
    epochs: int = 1,
    batch_size: int = 16,
    learning_rate: float = 8e-5,
    max_seq: int = 128,
    stride: int = 64,
    max_steps: int = 0,
    threads: int = 2,
    seed: int = 0,
    quantize: bool = True,
    checkpoint: Path | None = None,
    checkpoint_every: int = 100,
    keep_checkpoints: bool = False,
    init: Path | None = None,
    answer_loss: float = 1.0,
    progress: Callable[[int, int, float], None] | None = None,
    meta: dict[str, Any] | None = None,
) -> ReaderReport:
    """Fine-tune ``base_model`` as a reader on ``examples``; write the ONNX reader to ``out_dir``.

    With ``checkpoint``, the weights, optimizer, schedule and random state are saved there every
    ``checkpoint_every`` steps (and a copy ``<stem>-<step><suffix>`` kept with ``keep_checkpoints``),
    and a run started with an existing checkpoint resumes where it stopped: the same batches in the
    same order, the same learning rate. ``max_steps``/``epochs`` may differ from the first run (to
    stop earlier or train longer); ``batch_size``, ``seed`` and the examples may not.

    With ``init`` (a checkpoint of an earlier run, possibly on other examples), training starts
    from its weights with a fresh optimizer and schedule: another round on new data.
    ``answer_loss`` weighs the answer head's loss against the span head's (0: a span-only round).
    """
    answered = sum(bool(e.answer) for e in examples)
    if answered < 2:
        raise ConfigError(
            f"only {answered} examples with an answer; the reader needs at least 2 "
            "(and hundreds to learn much)"
        )
    if answer_loss < 0:
        raise ConfigError(f"answer_loss must be 0 or more (0: train the span head only), got {answer_loss}")
    if batch_size < 1 or epochs < 1:
        raise ConfigError(f"batch_size ({batch_size}) and epochs ({epochs}) must be at least 1")
    tokenizer = base_model / TOKENIZER_FILE
    if not tokenizer.is_file():
        raise ConfigError(
            f"no {TOKENIZER_FILE} in {str(base_model)!r}; pass a sentence-transformers model directory"
        )
    try:
        import torch
        from transformers import AutoModel
    except ImportError:
        raise ConfigError(
            "training the reader needs torch and transformers: pip install 'ragline[export]'"
        ) from None
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = random.Random(seed)
    featurizer = Featurizer(tokenizer, max_seq, stride)
    data = label_windows(featurizer, examples, rng)
    try:
        encoder = AutoModel.from_pretrained(
            str(base_model), local_files_only=True, attn_implementation="eager"
        )
    except Exception as exc:  # any load failure: wrong path, not a BERT model
        raise EmbeddingError(f"cannot load {base_model} as a BERT encoder: {exc}") from exc
    net = _heads(torch, encoder)
    # The word embeddings are most of the weights and learn little from a few thousand questions;
    # frozen, they cost no gradient or optimiser step.
    encoder.embeddings.requires_grad_(False)
    steps_per_epoch = math.ceil(len(data) / batch_size)
    total = steps_per_epoch * epochs if max_steps <= 0 else min(max_steps, steps_per_epoch * epochs)
    warmup = max(1, total // 10)
    run = {"batch_size": batch_size, "seed": seed, "windows": len(data), "max_seq": max_seq}
    state: dict[str, Any] = {}
    if checkpoint is not None and checkpoint.is_file():
        state = _load_checkpoint(torch, checkpoint, run, total)
        net.load_state_dict(state["model"])
    elif init is not None:
        # Only the weights: this round's batches, steps and learning rate are its own.
        net.load_state_dict(_read_checkpoint(torch, init)["model"])
    first_step = int(state.get("step", 0))

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    optimizer = torch.optim.AdamW(
        [p for p in net.parameters() if p.requires_grad], lr=learning_rate, weight_decay=0.01
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    if "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
    if first_step:
        # The learning rate follows this run's schedule (its total may differ from the first run's).
        scheduler.last_epoch = first_step
        for group, base in zip(optimizer.param_groups, scheduler.base_lrs, strict=True):
            group["lr"] = base * lr_at(first_step)
        log.info("resumed from %s at step %d of %d", checkpoint, first_step, total)

    def save(step: int) -> None:
        assert checkpoint is not None
        full = {
            "format": 2,
            "model": net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "step": step,
            "total": total,
            **run,
        }
        # Written aside, then renamed: a run killed mid-save keeps the previous checkpoint.
        tmp = checkpoint.with_name(checkpoint.name + ".tmp")
        torch.save(full, str(tmp))
        tmp.replace(checkpoint)
        if keep_checkpoints:
            shutil.copyfile(checkpoint, checkpoint.with_name(f"{checkpoint.stem}-{step}{checkpoint.suffix}"))

    net.train()
    started, step, loss_value = time.perf_counter(), 0, float("nan")
    while step < total:
        for rows in _batches(data, batch_size, rng):
            if step >= total:
                break
            step += 1
            if step <= first_step:
                continue
            arrays = {k: torch.from_numpy(v) for k, v in pad([r[0] for r in rows]).items()}
            s_log, e_log, a_log = net(**arrays)
            s_t = torch.tensor([r[1] for r in rows])
            e_t = torch.tensor([r[2] for r in rows])
            a_t = torch.tensor([float(r[3]) for r in rows])
            loss = (
                torch.nn.functional.cross_entropy(s_log, s_t) + torch.nn.functional.cross_entropy(e_log, e_t)
            ) / 2 + answer_loss * torch.nn.functional.binary_cross_entropy_with_logits(a_log, a_t)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise EmbeddingError(
                    f"training diverged at step {step} (loss {loss_value}); lower the learning rate"
                )
            if checkpoint is not None and step % checkpoint_every == 0:
                save(step)
            if progress is not None:
                progress(step, total, loss_value)
    net.eval()
    if checkpoint is not None and step % checkpoint_every != 0:
        save(step)
    _save(net, tokenizer, out_dir, quantize)
    info = {
        "format": 1,
        "base_model": base_model.name if base_model.name != "model" else base_model.parent.name,
        # Trained on short windows (cheap); it reads longer ones as well (BERT positions go to 512).
        "train_max_seq": max_seq,
        "max_seq": 256,
        "stride": stride,
        "examples": len(examples),
        "answered": answered,
        "windows": len(data),
        "steps": step,
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "quantized": quantize,
        "quantization": QUANTIZATION if quantize else None,
        **(meta or {}),
    }
    (out_dir / META_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return ReaderReport(len(examples), len(data), step, time.perf_counter() - started, loss_value, out_dir)


def _read_checkpoint(torch: Any, path: Path) -> dict[str, Any]:
    """The contents of a reader checkpoint; an error naming the file otherwise."""
    if not path.is_file():
        raise ConfigError(
            f"checkpoint {str(path)!r} does not exist; pass a checkpoint written by train_reader"
        )
    try:
        state: dict[str, Any] = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a truncated or foreign file
        # torch's own message is long and suggests weights_only=False, which a checkpoint of
        # train_reader never needs: name the file and the way out instead.
        raise ConfigError(
            f"cannot read checkpoint {str(path)!r} ({type(exc).__name__}): it is not a reader "
            "checkpoint, or a truncated one; delete it to start afresh"
        ) from exc
    if not isinstance(state, dict) or "model" not in state or "step" not in state:
        raise ConfigError(f"{str(path)!r} is not a reader checkpoint; delete it to start afresh")
    return state


def _load_checkpoint(torch: Any, path: Path, run: dict[str, int], total: int) -> dict[str, Any]:
    """A checkpoint of this run (same batches); an error naming what differs otherwise."""
    state = _read_checkpoint(torch, path)
    if "optimizer" not in state:
        # Format 1 held the weights only: the optimizer's moments start afresh.
        log.warning("checkpoint %s holds no optimizer state; resuming the weights only", path)
        return state
    differ = {k: (state.get(k), v) for k, v in run.items() if state.get(k) != v}
    if differ:
        named = ", ".join(f"{k} {a} (now {b})" for k, (a, b) in differ.items())
        raise ConfigError(
            f"checkpoint {str(path)!r} was written by a run with {named}; resume with the same "
            "examples, batch_size and seed, or delete the checkpoint to start afresh"
        )
    if int(state["step"]) >= total:
        raise ConfigError(
            f"checkpoint {str(path)!r} is at step {state['step']}, and this run has {total} steps; "
            "raise max_steps or epochs to train further, or export it with export_checkpoint"
        )
    return state


def _save(net: Any, tokenizer: Path, out_dir: Path, quantize: bool) -> None:
    export_reader(net, out_dir, quantize=quantize)
    shutil.copyfile(tokenizer, out_dir / TOKENIZER_FILE)


def export_checkpoint(
    base_model: Path, checkpoint: Path, out_dir: Path, *, quantize: bool = True, meta: dict[str, Any]
) -> None:
    """Export a training checkpoint (``train_reader(checkpoint=...)``) as a reader directory."""
    import torch
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(str(base_model), local_files_only=True, attn_implementation="eager")
    net = _heads(torch, encoder)
    state = torch.load(str(checkpoint), map_location="cpu")
    net.load_state_dict(state["model"])
    net.eval()
    _save(net, base_model / TOKENIZER_FILE, out_dir, quantize)
    info = {
        "format": 1,
        "max_seq": 256,
        "stride": 64,
        "steps": int(state["step"]),
        "quantized": quantize,
        "quantization": QUANTIZATION if quantize else None,
        **meta,
    }
    (out_dir / META_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def export_reader(net: Any, out_dir: Path, *, quantize: bool = True) -> None:
    """Export the trained network to ``out_dir/reader.onnx`` (int8 when ``quantize``)."""
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    ids = torch.ones((2, 16), dtype=torch.long)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        # The tracer's warnings concern control flow that is fixed for BERT encoders.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                net,
                (ids, torch.ones_like(ids), torch.zeros_like(ids)),
                str(raw),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["start_logits", "end_logits", "answer_logit"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "seq"},
                    "attention_mask": {0: "batch", 1: "seq"},
                    "token_type_ids": {0: "batch", 1: "seq"},
                    "start_logits": {0: "batch", 1: "seq"},
                    "end_logits": {0: "batch", 1: "seq"},
                    "answer_logit": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        target = out_dir / MODEL_FILE
        if quantize:
            quantize_reader(raw, target)
        else:
            shutil.copyfile(raw, target)


def quantize_reader(raw: Path, target: Path) -> None:
    """Quantise the fp32 reader graph ``raw`` to int8 at ``target`` as :data:`QUANTIZATION` says.

    Per-tensor QInt8 of every weight, the first scheme, cost 0.05 span F1 on the held-out
    calibration articles (fp32 0.677, int8 0.628); per-channel weights and a scale per embedding
    row give 0.683 at the same size and speed (docs/benchmarks.md, "Span quality at int8 speed").
    """
    quantize_int8(raw, target, what="reader")
