"""The client configuration ``talosctl`` reads (``talosconfig``) and the credentials in it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cozyplan_talos import pki, yamlio
from cozyplan_talos.secrets import Bundle


@dataclass(frozen=True)
class Credentials:
    """PEM CA, client certificate and client key of one talosconfig context."""

    ca: bytes
    crt: bytes
    key: bytes


def render(bundle: Bundle, context: str, endpoints: list[str], nodes: list[str]) -> str:
    client = pki.admin_client_cert(bundle.os)
    doc: dict[str, Any] = {
        "context": context,
        "contexts": {
            context: {
                "endpoints": list(endpoints),
                "nodes": list(nodes),
                "ca": pki.b64(bundle.os.crt),
                "crt": pki.b64(client.crt),
                "key": pki.b64(client.key),
            }
        },
    }
    return yamlio.dump(doc)


def credentials(text: str) -> Credentials:
    """The current context's credentials (raises ValueError when they are missing)."""
    try:
        doc = yamlio.load(text)
    except yamlio.YAMLError as exc:
        raise ValueError(f"talosconfig is not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError("talosconfig must be a YAML mapping")
    contexts = doc.get("contexts") or {}
    name = doc.get("context")
    ctx = contexts.get(name) if isinstance(contexts, dict) else None
    if not isinstance(ctx, dict):
        raise ValueError(f"talosconfig has no context {name!r}")
    try:
        creds = Credentials(pki.unb64(ctx["ca"]), pki.unb64(ctx["crt"]), pki.unb64(ctx["key"]))
    except (KeyError, ValueError) as exc:
        raise ValueError(f"talosconfig context {name!r} lacks ca/crt/key: {exc}") from None
    return creds
