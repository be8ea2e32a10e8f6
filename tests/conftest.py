"""Suite-wide: tests that share one external resource run in one xdist worker.

`make test` runs the suite on two workers (`pytest -n 2 --dist loadgroup`); the tests on
the throwaway PostgreSQL server share one database, so they form one group and run one
after the other in a single worker."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("postgres") is not None:
            item.add_marker(pytest.mark.xdist_group("postgres"))
