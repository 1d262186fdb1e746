"""CozyStack release files (Apache-2.0, see data/NOTICE) and what they say, computed."""

from cozyplan.upstream.cozystack.release import (
    AppDefinition,
    BundleEntry,
    Release,
    UnknownVersion,
    dependency_levels,
    helmrelease_depends,
    known_versions,
    release,
)

__all__ = [
    "AppDefinition",
    "BundleEntry",
    "Release",
    "UnknownVersion",
    "dependency_levels",
    "helmrelease_depends",
    "known_versions",
    "release",
]
