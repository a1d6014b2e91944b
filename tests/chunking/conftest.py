from __future__ import annotations

import pytest

from ragline.text.tokenizer import HFTokenizer, packaged_model_dir


@pytest.fixture(scope="session")
def tok() -> HFTokenizer:
    return HFTokenizer(packaged_model_dir())
