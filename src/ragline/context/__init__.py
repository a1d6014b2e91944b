"""Context assembly: from ranked hits to the passages a generator reads, within a token budget.

Lives here: sentence splitting, token counters (tiktoken or the embedding tokenizer), and the
assembler (expand to sentence windows or parent sections, merge overlapping spans, order, fit).
May import: ragline.types, ragline.errors, ragline.settings, ragline.store.base, ragline.chunking.base.
"""
