"""TLS contexts for the Talos API: maintenance (no client cert) and mTLS from a talosconfig.

grpclib needs ALPN ``h2`` set on a custom context. Talos certificates are Ed25519, which the
``ssl`` module (OpenSSL 3) handles fine; its key PEM armour is converted to standard PKCS#8.

A context is built once per set of credentials and shared by every connection (a client is
made per poll while a node reboots: building one each time loaded the CA and wrote the key to
a temp dir each time).
"""

from __future__ import annotations

import functools
import os
import ssl
import tempfile

from cozyplan_talos import pki
from cozyplan_talos.talosconfig import Credentials


@functools.cache
def insecure() -> ssl.SSLContext:
    """Like ``talosctl --insecure``: encrypted, server not verified, no client certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["h2"])
    return ctx


def mutual(creds: Credentials) -> ssl.SSLContext:
    """Verify the node against the cluster's OS CA and present the talosconfig client cert."""
    return _mutual(creds.ca, creds.crt, creds.key)


@functools.lru_cache(maxsize=16)
def _mutual(ca: bytes, crt_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(cadata=ca.decode())
    with tempfile.TemporaryDirectory(prefix="cozyplan-talos-") as tmp:
        crt = os.path.join(tmp, "client.crt")
        key = os.path.join(tmp, "client.key")
        for path, data in ((crt, crt_pem), (key, pki.pkcs8_pem(key_pem))):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        ctx.load_cert_chain(crt, key)
    ctx.set_alpn_protocols(["h2"])
    return ctx
