"""Generators: turn a question and its assembled :class:`~ragline.types.Context` into an Answer.

Lives here: the Generator protocol, the offline extractive answerer, the OpenAI-compatible chat
client (retries, fallback models, streaming), the grounded prompt and citation checking.
May import: ragline.types, ragline.errors, ragline.settings, ragline.text, ragline.embedding.
"""
