"""Shared fixtures for the sentiment tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def phrasebank_dir() -> Path | None:
    """`../shared/data/sentiment/` beside the repo root (CI has it); a worktree elsewhere
    can point at it with SENTITRADE_SHARED_DIR. The data is CC BY-NC-SA: never copied."""
    cands = [REPO.parent / "shared" / "data" / "sentiment"]
    env = os.environ.get("SENTITRADE_SHARED_DIR")
    if env:
        cands.insert(0, Path(env) / "data" / "sentiment")
    for c in cands:
        if (c / "Sentences_AllAgree.txt").is_file():
            return c
    return None


@pytest.fixture
def phrasebank() -> Path:
    d = phrasebank_dir()
    if d is None:
        pytest.skip("Financial PhraseBank not found beside the repo (../shared/data/sentiment)")
    return d
