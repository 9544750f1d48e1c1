"""Where the captured meter frames live.

The corpus sits beside the project (``../shared/corpus``), not inside it; ``UTILITARIAN_CORPUS``
overrides the location. Tests that need it fail loudly when it is missing in CI and skip with a
reason on a laptop that has no copy.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("UTILITARIAN_CORPUS", ROOT.parent / "shared" / "corpus"))


def corpus_path(*parts: str) -> Path:
    """Path inside the corpus; fails (CI) or skips (laptop) when the corpus is absent."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        message = f"meter frame corpus not found at {path} (set UTILITARIAN_CORPUS)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
