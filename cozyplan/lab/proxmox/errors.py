"""Errors the simulated Proxmox VE API answers with, in PVE's own words."""

from __future__ import annotations


class ApiError(Exception):
    """An API error: PVE puts the message in the HTTP reason phrase, details in ``errors``."""

    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def param_error(**errors: str) -> ApiError:
    """HTTP 400 ``Parameter verification failed.`` with per-parameter messages."""
    return ApiError(400, "Parameter verification failed.", errors)


def lock_timeout(vmid: int) -> ApiError:
    return ApiError(500, f"can't lock file '/var/lock/qemu-server/lock-{vmid}.conf' - got timeout")


def no_such_vm(node: str, vmid: int) -> ApiError:
    return ApiError(
        500, f"Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist"
    )
