"""A generated set for near-duplicate detection: original documents, edited copies of them
(typos, reordered paragraphs, boilerplate added, and mixes of these) that should be found, and
distinct-but-similar documents that should not (same template with other content, a heavy
revision, the same topic written anew).

Words follow a Zipf distribution over a made-up vocabulary, as words do in real text, so unrelated
documents share their common words and short phrases. Deterministic for a seed.

    from near_dup_data import generate
    data = generate(seed=1, originals=300)
    data.originals      # {doc_id: text}
    data.variants       # [(text, original doc_id or None, how it was made)]
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field


@dataclass
class NearDupSet:
    originals: dict[str, str] = field(default_factory=dict)
    # (text, the original it copies or None for a distinct document, how it was made)
    variants: list[tuple[str, str | None, str]] = field(default_factory=list)


def _vocabulary(rng: random.Random, n: int = 6000) -> list[str]:
    syllables = [
        "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 3))) for _ in range(400)
    ]
    words = {"".join(rng.choice(syllables) for _ in range(rng.randint(1, 3))) for _ in range(n * 2)}
    return sorted(words)[:n]


class _Writer:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.vocab = _vocabulary(rng)
        self.weights = [1.0 / (i + 1) for i in range(len(self.vocab))]

    def sentence(self, topic: list[str]) -> str:
        n = self.rng.randint(8, 20)
        words = [
            self.rng.choice(topic) if self.rng.random() < 0.25 else w
            for w in self.rng.choices(self.vocab, self.weights, k=n)
        ]
        return " ".join(words).capitalize() + "."

    def paragraph(self, topic: list[str]) -> str:
        return " ".join(self.sentence(topic) for _ in range(self.rng.randint(3, 6)))

    def topic(self) -> list[str]:
        return self.rng.sample(self.vocab[200:], 15)

    def document(self, topic: list[str], paragraphs: int) -> list[str]:
        return [self.paragraph(topic) for _ in range(paragraphs)]


def _typos(rng: random.Random, text: str, rate: float) -> str:
    words = text.split(" ")
    for i, w in enumerate(words):
        if len(w) > 3 and rng.random() < rate:
            j = rng.randrange(len(w) - 1)
            op = rng.randrange(3)
            if op == 0:
                w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]  # swap
            elif op == 1:
                w = w[:j] + w[j + 1 :]  # drop
            else:
                w = w[:j] + rng.choice(string.ascii_lowercase) + w[j:]  # insert
            words[i] = w
    return " ".join(words)


def generate(seed: int, originals: int = 300) -> NearDupSet:
    rng = random.Random(seed)
    w = _Writer(rng)
    out = NearDupSet()
    boilerplates = [w.paragraph(w.topic()) for _ in range(5)]
    templates = [w.document(w.topic(), 2) for _ in range(10)]
    docs: dict[str, tuple[list[str], list[str]]] = {}
    for i in range(originals):
        topic = w.topic()
        if rng.random() < 0.3:
            # Half of a template (shared with other documents) and its own paragraphs.
            paras = list(rng.choice(templates)) + w.document(topic, rng.randint(3, 5))
        else:
            paras = w.document(topic, rng.randint(3, 8))
        doc_id = f"orig-{i}"
        docs[doc_id] = (paras, topic)
        out.originals[doc_id] = "\n\n".join(paras)
    for doc_id, (paras, topic) in docs.items():
        kind = rng.randrange(8)
        if kind == 0:
            text, how = _typos(rng, "\n\n".join(paras), rng.uniform(0.01, 0.05)), "typos"
        elif kind == 1:
            shuffled = list(paras)
            rng.shuffle(shuffled)
            text, how = "\n\n".join(shuffled), "reordered"
        elif kind == 2:
            # A one-line header and a disclaimer paragraph, as mail and web pages add.
            header = w.sentence(w.topic())
            text, how = "\n\n".join([header, *paras, rng.choice(boilerplates)]), "boilerplate"
        elif kind == 3:
            shuffled = list(paras)
            rng.shuffle(shuffled)
            mixed = _typos(rng, "\n\n".join([*shuffled, rng.choice(boilerplates)]), 0.02)
            text, how = mixed, "typos+reordered+boilerplate"
        elif kind == 4:
            # Same template, other content: shares its first paragraphs, nothing else.
            kept = paras[:2]
            text, how = "\n\n".join([*kept, *w.document(w.topic(), max(2, len(paras) - 2))]), "same-template"
            out.variants.append((text, None, how))
            continue
        elif kind == 5:
            # A heavy revision: half of the paragraphs (rounded up) rewritten.
            revised = list(paras)
            for j in rng.sample(range(len(paras)), (len(paras) + 1) // 2):
                revised[j] = w.paragraph(topic)
            out.variants.append(("\n\n".join(revised), None, "heavy-revision"))
            continue
        elif kind == 6:
            out.variants.append(("\n\n".join(w.document(topic, len(paras))), None, "same-topic"))
            continue
        else:
            # Lightly edited: one paragraph rewritten, a few typos.
            edited = list(paras)
            edited[rng.randrange(len(edited))] = w.paragraph(topic)
            if len(edited) < 5:
                edited = [*paras, w.sentence(topic)]
            text, how = _typos(rng, "\n\n".join(edited), 0.01), "one-paragraph-edit"
        out.variants.append((text, doc_id, how))
    return out
