"""The embedded lab: simulators of Proxmox VE, Talos nodes, SSH hosts (and more) on loopback.

``cozyplan.lab.framework`` holds the shared world and the simulator base class; one module per
simulated system registers a ``Simulator`` in the entry-point group ``cozyplan.lab``.
The lab never imports a provider: it hands each provider its connection settings by name.
"""

import os
from pathlib import Path

from cozyplan.errors import CozyplanError

DEFAULT_LAB_DIR = Path(os.environ.get("COZYPLAN_LAB_DIR", ".lab"))
#: the simulated world in a lab directory (``LabWorld`` keeps it)
WORLD_FILE = "world.json"


class LabError(CozyplanError):
    """The lab cannot do what was asked (also re-exported by ``cozyplan.lab.framework``)."""
