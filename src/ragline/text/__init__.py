"""Text primitives several stages share, on plain strings: the ground floor above ``types``.

``sentences`` splits text into sentence spans (chunkers, sentence vectors, the assembler, the
extractive answerer, summaries, tuning); ``tokenizer`` has the :class:`Tokenizer` protocol and the
Hugging Face tokenizer of the embedding model; ``token_counters`` counts tokens for context budgets;
``words`` has the stop words and content-word tokenisation of the lexical stages.

May import: ``ragline.errors`` only (callers pass settings in as plain values), so every stage can
use it without an upward import (docs/architecture.md, checked by tests/test_layers.py).
"""
