"""What a command server imports and reads before it forks its first command.

Everything a command could otherwise load during its run: every module of cozyplan and of each
installed provider package (found through the ``cozyplan.providers`` entry points, never by
name), what providers and lab simulators load only on first use (``Provider.lazy_modules``,
``Simulator.server_modules``), and the parsed upstream data (CozyStack's app definitions, the capmox
CRDs). Forked children share all of it copy-on-write.

Nothing here may start a thread or open a connection: a process is forked only while it has
one thread (``daemon`` checks).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
from collections.abc import Iterator
from types import ModuleType

#: never imported ahead: modules that run a program when imported
SKIP_SUFFIXES = ("__main__",)


def warm() -> list[str]:
    """Import and read ahead; the names of the packages loaded (for ``fingerprint``)."""
    import cozyplan
    from cozyplan import registry
    from cozyplan.lab.runtime import simulator_classes

    packages: list[ModuleType] = [cozyplan]
    for name in registry.available():
        cls = registry.provider_class(name)
        if cls is None:
            continue
        top = sys.modules[cls.__module__.split(".")[0]]
        if top not in packages:
            packages.append(top)
        for module in cls.lazy_modules:
            _import(module)
    for package in packages:
        for module in _modules_of(package):
            _import(module)
    for sim in simulator_classes():
        for module in sim.server_modules:
            _import(module)
    _read_upstream_data()
    return [package.__name__ for package in packages]


def _modules_of(package: ModuleType) -> Iterator[str]:
    path = getattr(package, "__path__", None)
    if path is None:
        return
    for info in pkgutil.walk_packages(path, prefix=package.__name__ + ".", onerror=_skip):
        if not info.name.endswith(SKIP_SUFFIXES) and ".tests" not in info.name:
            yield info.name


def _skip(name: str) -> None:
    """A subpackage whose ``__init__`` failed to import: it is left for the command to report."""


def _import(name: str) -> None:
    try:
        importlib.import_module(name)
    except Exception:  # an optional extra not installed (psycopg): the command reports it
        print(f"cozyplan server: not preloaded: {name}", file=sys.stderr)
        traceback.print_exc(limit=1)


def _read_upstream_data() -> None:
    from cozyplan.upstream import capmox
    from cozyplan.upstream.cozystack.release import known_versions, release

    for version in known_versions():
        release(version).app_definitions()
    for version in capmox.VERSIONS:
        capmox.crds(version)
