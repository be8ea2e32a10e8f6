"""Suite-wide: tests that share one external resource run in one xdist worker.

`make test` runs the suite on two workers (`pytest -n 2 --dist loadgroup`); the tests on
the throwaway PostgreSQL server share one database, so they form one group and run one
after the other in a single worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("postgres") is not None:
            item.add_marker(pytest.mark.xdist_group("postgres"))


_PARAMS_DIR = Path(__file__).resolve().parents[1] / "var" / "strategies"


def _params_files() -> set[str]:
    return {p.name for p in _PARAMS_DIR.glob("*.json")} if _PARAMS_DIR.is_dir() else set()


@pytest.fixture(autouse=True)
def _no_params_file_left_in_the_repo() -> Iterator[None]:
    """A test that runs hyperopt from the repository's folder would leave a
    `var/strategies/<name>.json` there, which every later backtest and live test then
    loads (different parameters, different trades): fail the test that wrote it."""
    before = _params_files()
    yield
    new = _params_files() - before
    for name in new:
        (_PARAMS_DIR / name).unlink(missing_ok=True)
    assert not new, f"the test wrote {sorted(new)} into {_PARAMS_DIR}: run it in tmp_path"
