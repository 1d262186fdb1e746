"""The lab's simulated Proxmox VE host, served over SSH (exec + SFTP) by asyncssh in-process.

Modules: ``simulator`` (the ``Simulator`` plugged into the lab), ``server`` (SSH server),
``sftp`` (SFTP over the fake FS), ``fakefs`` (persistent filesystem), ``shell`` (a small honest
``sh`` subset), ``host`` (one host: run command lines), ``commands/`` (the tool emulators).
"""

from cozyplan.lab.sshhost.simulator import HostSimulator

__all__ = ["HostSimulator"]
