"""Build a conversational retrieval set from SQuAD v1.1 dev: pairs of questions on the same article
where the second is rewritten elliptically, as a user would ask it as a follow-up.

Rules (applied in order; the first that fits makes the pair):

* **title**: both questions name the article's title entity (its title without a parenthesis or
  ", State" suffix, e.g. "Victoria", "Fresno"; for a two-word-or-longer title also its last word
  when capitalised, e.g. "Tesla" for "Nikola Tesla"; a final "s" is optional, so "Huguenots"
  matches "Huguenot"). In the second question that mention, with a "the" (or "a") before it, becomes a
  pronoun: "its"/"their" for a possessive ("Warsaw's"), "they"/"them" for a plural title,
  "he"/"him"/"his" for a person (an article whose questions say he/his/she/her in one of ten or
  more), "it" otherwise (capitalised at the start).
* **shared**: the questions name the same other capitalised entity (two or more words, or one of
  five or more letters, not the first word), which becomes a pronoun the same way.

Questions are paired in SQuAD's order within an article (each question in at most one pair, at
most ``--max-pairs`` per article). The history of a pair is the first question and its first
gold answer as the assistant's reply. The follow-up's gold paragraph is its own (often not the
first question's).

Articles are split as ``ragline eval qa`` splits SQuAD: index % 4 in {0, 1} is the *dev* slice
(rules are tuned there only), {2, 3} the *test* slice (reported). Each slice takes articles in
order, skipping those with fewer than ``--min-pairs`` pairs, until ``--paragraphs`` paragraphs;
the corpus holds every paragraph of the chosen articles of both slices.

    .venv/bin/python bench/conversational/build.py --out /tmp/conv

writes ``corpus.jsonl`` ({"_id", "title", "text"}) and ``pairs.jsonl`` ({"id", "split", "article",
"rule", "history": [{"role", "content"}], "question" (elliptical), "original", "gold"}). Without
the dataset it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from ragline.text.words import STOPWORDS

DEFAULT_SQUAD = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "squad-v1.1-dev"
_START_WORDS = frozenset(
    re.split(
        r"\s+",
        "what which who whom whose when where why how is are was were do does did can could has have had "
        "will would in on at by for from of the a an",
    )
)
# A pronoun after one of these is a subject ("when did they"); elsewhere an object ("beat them").
_SUBJECT_AFTER = frozenset(
    re.split(
        r"\s+",
        "what which who when where why how is are was were do does did can could has have had will would "
        "if after before because while until and that",
    )
)
_PREPOSITIONS = "of|in|on|at|for|from|to|by|with|during|about|after|before|into"
_ENTITY = re.compile(r"\b[A-Z][\w'’.-]*[\w](?:\s+(?:of|the|de|and|upon)?\s*[A-Z][\w'’.-]*[\w])*")


def aliases(title: str) -> list[str]:
    """The names a question may use for the article's title entity, longest first."""
    base = re.sub(r"\s*\(.*?\)\s*", " ", title).split(",")[0].strip()
    names = [base]
    words = base.split()
    if len(words) >= 2 and words[-1][:1].isupper() and len(words[-1]) >= 4 and not words[-1].isdigit():
        names.append(words[-1])
    return names


def _plural(name: str) -> bool:
    last = name.split()[-1].lower()
    return last.endswith("s") and not last.endswith(("ss", "us", "is"))


def pronoun_for(question: str, start: int, end: int, name: str, person: bool = False) -> str:
    """The pronoun standing for ``question[start:end]`` (a mention of ``name``; ``person``: "he")."""
    after = question[end:]
    plural = _plural(question[start:end]) or _plural(name)
    possessive = after.startswith(("'s", "’s", "'", "’"))
    before = question[:start].split()
    prev = before[-1].lower() if before else ""
    subject = not before or prev in _SUBJECT_AFTER
    if plural:
        return "their" if possessive else "they" if subject else "them"
    if person:
        return "his" if possessive else "he" if subject else "him"
    return "its" if possessive else "it"


def replace_mention(question: str, pattern: re.Pattern[str], name: str, person: bool = False) -> str | None:
    """``question`` with its first mention matching ``pattern`` (and a "the" before it) replaced
    by a pronoun; None when there is none."""
    m = pattern.search(question)
    if m is None:
        return None
    start, end = m.span()
    the = re.search(r"\b(?:[Tt]he|[Aa]n?)\s+$", question[:start])
    if the:
        start = the.start()
    prev = question[:start].split()[-2:]
    nxt = re.match(r"\s+([A-Za-z]+)", question[end:])
    if re.search(r"\d(?:st|nd|rd|th)\s+$", question[:start]) or (
        # Part of a longer name: "Polonia Warsaw", "University of Warsaw".
        prev
        and (prev[-1][:1].isupper() or (prev[-1] == "of" and len(prev) == 2 and prev[0][:1].isupper()))
        and len(question[:start].split()) > 1
    ):
        return None
    if (
        nxt
        and nxt.group(1).islower()
        and nxt.group(1) not in STOPWORDS
        and not the
        and prev
        and prev[-1].lower() not in _SUBJECT_AFTER
    ):
        return None  # a modifier inside a noun phrase: "a deterministic Turing machine"
    pronoun = pronoun_for(question, start, end, name, person)
    # "during the Super Bowl 50 halftime show": the name modifies a noun, so it becomes "its".
    after_prep = re.search(rf"\b(?:{_PREPOSITIONS})\s+$", question[:start])
    if the and after_prep and re.match(r"\s+[a-z]", question[end:]) and pronoun in ("it", "them", "him"):
        pronoun = {"it": "its", "them": "their", "him": "his"}[pronoun]
    apostrophe = re.match(r"['’]s?", question[end:])
    if pronoun in ("its", "their", "his") and apostrophe:
        end += len(apostrophe.group(0))
    if start == 0 and pronoun[0].islower():
        pronoun = pronoun.capitalize()
    out = f"{question[:start]}{pronoun}{question[end:]}"
    return out[0].upper() + out[1:]


# A mention is a whole name: "Super Bowl" is not a mention inside "Super Bowl XLIX".
_WHOLE = r"\b(?!\s+(?-i:[A-Z]|\d))"


def _alias_pattern(names: list[str]) -> re.Pattern[str]:
    parts = [re.escape(n) + ("" if n.endswith("s") else "s?") for n in names]
    return re.compile(r"\b(?:" + "|".join(parts) + r")" + _WHOLE, re.IGNORECASE)


def is_person(questions: list[str]) -> bool:
    """An article about a person: its questions say "he"/"his" often (Tesla, Luther, Genghis Khan)."""
    hits = sum(bool(re.search(r"\b(?:he|his|him|she|her)\b", q, re.IGNORECASE)) for q in questions)
    return hits >= 0.1 * len(questions)


def _entities(question: str) -> set[str]:
    found = set()
    for m in _ENTITY.finditer(question):
        words = m.group(0).split()
        if m.start() == 0 or words[0].lower() in _START_WORDS:
            continue
        name = " ".join(words)
        if len(words) >= 2 or len(name) >= 5:
            found.add(name)
    return found


def build_pairs(article: dict[str, Any], index: int, max_pairs: int) -> list[dict[str, Any]]:
    title = article["title"].replace("_", " ")
    names = aliases(title)
    pattern = _alias_pattern(names)
    questions = [
        (qa["id"], qa["question"].strip(), qa["answers"][0]["text"], f"{index}-{p}")
        for p, para in enumerate(article["paragraphs"])
        for qa in para["qas"]
    ]
    person = is_person([q for _, q, _, _ in questions])
    pairs: list[dict[str, Any]] = []
    used: set[str] = set()
    for i, (qid1, q1, a1, _) in enumerate(questions):
        if qid1 in used or len(pairs) >= max_pairs:
            continue
        for qid2, q2, _, gold in questions[i + 1 : i + 6]:  # a follow-up comes soon after
            if qid2 in used:
                continue
            rule, rewritten = None, None
            if pattern.search(q1) and pattern.search(q2):
                rule, rewritten = "title", replace_mention(q2, pattern, names[0], person)
            else:
                shared = sorted(_entities(q1) & _entities(q2), key=len, reverse=True)
                if shared:
                    rule = "shared"
                    mention = re.compile(rf"\b{re.escape(shared[0])}{_WHOLE}")
                    rewritten = replace_mention(q2, mention, shared[0])
            if rule is None or rewritten is None or rewritten == q2:
                continue
            if rule == "title" and pattern.search(rewritten):
                continue  # named twice: the follow-up would still name it
            used.update((qid1, qid2))
            pairs.append(
                {
                    "id": qid2,
                    "article": title,
                    "rule": rule,
                    "history": [{"role": "user", "content": q1}, {"role": "assistant", "content": a1}],
                    "question": rewritten,
                    "original": q2,
                    "gold": gold,
                }
            )
            break
    return pairs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--squad", type=Path, default=DEFAULT_SQUAD, help="folder holding dev-v1.1.json")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--paragraphs", type=int, default=150, help="paragraph budget per slice")
    ap.add_argument("--min-pairs", type=int, default=10)
    ap.add_argument("--max-pairs", type=int, default=40, help="per article")
    args = ap.parse_args(argv)
    source = args.squad / "dev-v1.1.json"
    if not source.is_file():
        print(f"skip: {source} not found (SQuAD v1.1 dev lives in ../shared/datasets/squad-v1.1-dev)")
        return 0
    data = json.loads(source.read_text(encoding="utf-8"))["data"]
    budget = {"dev": args.paragraphs, "test": args.paragraphs}
    corpus: list[dict[str, str]] = []
    pairs: list[dict[str, Any]] = []
    for index, article in enumerate(data):
        split = "dev" if index % 4 in (0, 1) else "test"
        if budget[split] <= 0:
            continue
        made = build_pairs(article, index, args.max_pairs)
        if len(made) < args.min_pairs:
            continue
        budget[split] -= len(article["paragraphs"])
        title = article["title"].replace("_", " ")
        corpus += [
            {"_id": f"{index}-{p}", "title": title, "text": para["context"]}
            for p, para in enumerate(article["paragraphs"])
        ]
        pairs += [{**p, "split": split} for p in made]
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "corpus.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(d) + "\n" for d in corpus)
    with (args.out / "pairs.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(p) + "\n" for p in pairs)
    counts = Counter((p["split"], p["rule"]) for p in pairs)
    articles = {s: sorted({p["article"] for p in pairs if p["split"] == s}) for s in ("dev", "test")}
    print(f"{len(corpus)} paragraphs, {len(pairs)} pairs: {dict(sorted(counts.items()))}")
    for s, names in articles.items():
        print(f"{s}: {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
