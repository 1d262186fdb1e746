"""The numbers of a simulated Talos node: its API port and how long things take.

Apart from ``node`` so that the simulator's shell imports them without the gRPC server.
"""

API_PORT = 50000
#: simulated seconds (scaled by the world's time_scale)
INSTALL_REBOOT_SECONDS = 40.0
REBOOT_SECONDS = 20.0
BOOT_SECONDS = 10.0
#: after bootstrap, how long another control plane takes to become an etcd member
ETCD_JOIN_SECONDS = 15.0
