"""A bench-only provider: ``journal_resource``, a ``null_resource`` whose create is journalled
durably before and after, as every real provider's create is.

``null_resource`` sets ``crash_marker = False`` (its create touches nothing outside the state),
so a chain of them makes a handful of fsyncs in all. A real create (a VM, a file, a node's
config) records a crash marker that is on disk before the side effect, and its result is on
disk before anything that depends on it starts (the next step's marker sync covers it). This
resource does exactly that, with no side effect, so the ``journal`` shape measures the price of
the guarantee the README states, beside Terraform's chain.

The bench registers it through an entry point in a throwaway ``.dist-info`` on the child's
``PYTHONPATH`` (see ``bench.tools``): nothing of it ships with cozyplan.
"""

from __future__ import annotations

from pathlib import Path

from cozyplan.provider import EmptyConfig, Provider
from cozyplan_local.null import NullResource


class JournalResource(NullResource):
    type_name = "journal_resource"
    description = "null_resource with a durable crash marker (bench only)."
    crash_marker = True


class JournalProvider(Provider[EmptyConfig]):
    """``journal_resource`` (bench only)."""

    name = "journal"
    config_model = EmptyConfig
    resource_types = (JournalResource,)


def install_entry_point(directory: Path) -> Path:
    """Write a ``.dist-info`` that registers this provider; put ``directory`` on PYTHONPATH."""
    info = directory / "cozyplan_bench_journal-0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: cozyplan-bench-journal\nVersion: 0\n"
    )
    (info / "entry_points.txt").write_text(
        "[cozyplan.providers]\njournal = bench.journal_provider:JournalProvider\n"
    )
    return directory


__all__ = ["JournalProvider", "JournalResource", "install_entry_point"]
