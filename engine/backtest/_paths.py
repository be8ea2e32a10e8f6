"""Where the shared reference data sits: ``shared/`` beside the clone (CI), or one level
further up for a git worktree (``/work/wt/<name>`` next to ``/work/shared``)."""

from __future__ import annotations

from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]


def shared_data() -> Path:
    """The ``shared/data`` folder (may not exist; callers report that)."""
    for base in (_ROOT, *_ROOT.parents):
        cand = base / "shared" / "data"
        if (cand / "ohlcv").is_dir():
            return cand
    return _ROOT.parent / "shared" / "data"
