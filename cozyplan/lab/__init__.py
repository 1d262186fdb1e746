"""The embedded lab: simulators of Proxmox VE, Talos nodes, SSH hosts (and more) on loopback.

``cozyplan.lab.framework`` holds the shared world and the simulator base class; one module per
simulated system registers a ``Simulator`` in the entry-point group ``cozyplan.lab``.
The lab never imports a provider: it hands each provider its connection settings by name.
"""

import os
from pathlib import Path

from cozyplan.errors import CozyplanError

#: the lab directory when none is given: ``$COZYPLAN_LAB_DIR``, else ``.lab``
LAB_DIR_ENV = "COZYPLAN_LAB_DIR"
DEFAULT_LAB_DIR_NAME = ".lab"


def default_lab_dir() -> Path:
    """Read when asked, not at import: a command forked from the command server has its own
    environment."""
    return Path(os.environ.get(LAB_DIR_ENV) or DEFAULT_LAB_DIR_NAME)


#: the simulated world in a lab directory (``LabWorld`` keeps it)
WORLD_FILE = "world.json"


class LabError(CozyplanError):
    """The lab cannot do what was asked (also re-exported by ``cozyplan.lab.framework``)."""
