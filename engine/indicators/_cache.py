"""Keep numba's on-disk cache honest across the modules of this package.

numba keys a cached kernel on the source of the file that defines it. A kernel that calls
kernels from another file (``batch._ema2`` calls ``_common.ema_into``) has their machine
code compiled into its own cache entry, so editing ``_common.py`` and deploying would
leave ``batch.py``'s cached copy running the old code. For a trading engine that is a
silent wrong number, so every kernel of this package is stamped with a hash of *all* the
package's sources: any change recompiles everything once.

This is done with a cache locator (numba's documented extension point for where and how
caches are stamped); it only claims files of this package and delegates the location to
numba's usual choice (``NUMBA_CACHE_DIR``, ``__pycache__`` or the user-wide directory).
Import this module before any ``@njit(cache=True)`` of the package is decorated.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from typing import Any, ClassVar

from numba.core import caching

_PKG = os.path.dirname(os.path.abspath(__file__))


@lru_cache(maxsize=1)
def package_stamp() -> str:
    """SHA-256 over the names and contents of the package's ``.py`` files, sub-packages
    (``batch``, ``streaming``) included."""
    h = hashlib.sha256()
    for root, dirs, files in os.walk(_PKG):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(root, name)
                h.update(os.path.relpath(path, _PKG).encode())
                with open(path, "rb") as f:
                    h.update(f.read())
    return h.hexdigest()


class PackageLocator(caching._CacheLocator):
    """numba's usual locator for files of this package, with the package stamp added."""

    _defaults: ClassVar[list[Any]] = []
    _writable: ClassVar[set[str]] = set()
    _chosen: ClassVar[Any] = None  # the numba locator class that works for this package

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def ensure_cache_path(self) -> None:
        # numba probes a directory by creating a temporary file in it, once per kernel at
        # import; once per directory is enough
        path = self.get_cache_path()
        if path not in self._writable:
            self._inner.ensure_cache_path()
            self._writable.add(path)

    def get_cache_path(self) -> str:
        return str(self._inner.get_cache_path())

    def get_source_stamp(self) -> Any:
        return (self._inner.get_source_stamp(), package_stamp())

    def get_disambiguator(self) -> str:
        return str(self._inner.get_disambiguator())

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> PackageLocator | None:
        here = os.path.dirname(os.path.abspath(py_file))
        if here != _PKG and not here.startswith(_PKG + os.sep):
            return None
        if cls._chosen is not None:  # same package, same answer: skip numba's probe
            return cls(cls._chosen(py_func, py_file))
        for other in cls._defaults:
            inner = other.from_function(py_func, py_file)
            if inner is not None:
                if type(inner) in _PLAIN:
                    cls._chosen = type(inner)
                    cls._writable.add(inner.get_cache_path())
                return cls(inner)
        return None


_PLAIN = (
    caching.UserProvidedCacheLocator,
    caching.InTreeCacheLocator,
    caching.UserWideCacheLocator,
)


def install() -> None:
    """Put :class:`PackageLocator` first in numba's locator list (idempotent)."""
    classes = getattr(getattr(caching, "CacheImpl", None), "_locator_classes", None)
    if not isinstance(classes, list) or PackageLocator in classes:
        return
    PackageLocator._defaults = list(classes)
    classes.insert(0, PackageLocator)


install()
