"""Evaluation: IR metrics as pure functions and the BEIR runner.

``metrics`` imports nothing from ragline; ``beir`` may import ``ragline.engine``.
"""
