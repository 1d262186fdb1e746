"""Modules that load on first use: a provider's client library (asyncssh, kubernetes, grpclib)
is needed to talk to a system, not to validate a spec or to plan what needs no reading.

``lazy("asyncssh")`` returns a stand-in at once; the first attribute looked up on it imports
the real module (``importlib.import_module``, so thread-safe under the import system's module
locks, and the module in ``sys.modules`` is the real one) and reads the attribute from it. Use
it under a ``TYPE_CHECKING`` guard so type checkers see the real module::

    if TYPE_CHECKING:
        import asyncssh
    else:
        asyncssh = lazy("asyncssh")
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule(ModuleType):
    """Stands for the module ``name`` until an attribute is looked up on it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:  # only for what the stand-in does not have
        module = self.__module
        if module is None:
            module = self.__module = importlib.import_module(self.__name__)
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self.__name__!r}>"


def lazy(name: str) -> ModuleType:
    """A stand-in for module ``name`` that imports it when first used."""
    return LazyModule(name)
