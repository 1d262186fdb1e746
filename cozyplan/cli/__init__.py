"""The ``cozyplan`` command line (click). Thin: the work is in the engine modules."""

from __future__ import annotations

import gc

# A CLI run allocates many small long-lived objects (the spec, the state, the plan): with the
# default thresholds the cycle collector rescans them over and over (~20% of a 10,000-resource
# plan). Collect young objects less often; cycles are still collected.
gc.set_threshold(100_000, 50, 1000)

import click

from cozyplan import __version__
from cozyplan.cli.backendcmds import state_migrate, state_rekey, workspace
from cozyplan.cli.inspect import graph, schema, show, validate
from cozyplan.cli.labcmds import lab
from cozyplan.cli.run import apply, destroy, plan, refresh
from cozyplan.cli.statecmds import force_unlock, import_, state


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cozyplan")
def main() -> None:
    """Declarative, state-reconciling installer for CozyStack on Proxmox VE."""


for command in (
    validate,
    plan,
    apply,
    refresh,
    destroy,
    show,
    graph,
    state,
    import_,
    force_unlock,
    schema,
    lab,
    workspace,
):
    main.add_command(command)
state.add_command(state_migrate)
state.add_command(state_rekey)
