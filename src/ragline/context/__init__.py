"""Context assembly: from ranked hits to the passages a generator reads, within a token budget.

Lives here: the assembler (expand to sentence windows or parent sections, merge overlapping spans,
order, fit). Sentence spans and token counters come from :mod:`ragline.text`.
May import: ragline.types, ragline.errors, ragline.settings, ragline.text, ragline.store.base,
ragline.store.filters.
"""
