"""Turning API server answers (``metav1.Status``) and transport failures into engine errors.

* 401/403 name the user and the verb (what RBAC refused);
* 404 on a kind names the missing API group / CRD (what discovery did not serve);
* 409 (a stale resourceVersion, an object being deleted), 429 and 5xx, and connection resets
  are ``TemporaryError``, honouring the server's ``Retry-After``;
* a server-side apply conflict (409 with ``reason: Conflict`` and field causes) is permanent
  unless ``force_conflicts``: retrying cannot change who owns the fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cozyplan.provider import PermanentError, TemporaryError


@dataclass(frozen=True)
class Request:
    """What was asked, for the error message."""

    verb: str  # Kubernetes verb: get, list, watch, create, patch, delete
    what: str  # "apps/v1 Deployment web in namespace demo"
    user: str = ""


@dataclass
class ApiStatus:
    """The useful parts of a ``metav1.Status`` body."""

    code: int
    reason: str = ""
    message: str = ""
    causes: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def parse(cls, code: int, body: bytes | str | None) -> ApiStatus:
        text = body.decode(errors="replace") if isinstance(body, bytes) else (body or "")
        try:
            doc = json.loads(text) if text else {}
        except ValueError:
            doc = {}
        if not isinstance(doc, dict) or doc.get("kind") != "Status":
            return cls(code, message=text.strip()[:500])
        details = doc.get("details") or {}
        causes = details.get("causes") or [] if isinstance(details, dict) else []
        return cls(
            int(doc.get("code") or code),
            str(doc.get("reason") or ""),
            str(doc.get("message") or ""),
            [c for c in causes if isinstance(c, dict)],
        )


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    raw = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


class ConflictError(PermanentError):
    """Server-side apply found fields owned by another field manager."""

    def __init__(self, message: str, managers: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.managers = managers


def conflict_owners(status: ApiStatus) -> dict[str, list[str]]:
    """Manager -> fields, from an apply conflict's causes (``conflict with "kubectl": .spec.x``)."""
    owners: dict[str, list[str]] = {}
    for cause in status.causes:
        if cause.get("reason") != "FieldManagerConflict":
            continue
        text = str(cause.get("message") or "")
        manager = text.split('"')[1] if text.count('"') >= 2 else "another manager"
        owners.setdefault(manager, []).append(str(cause.get("field") or "?"))
    return owners


def api_error(
    req: Request, code: int, body: bytes | str | None, headers: Mapping[str, str] | None = None
) -> PermanentError | TemporaryError:
    """The engine error for a non-2xx answer to ``req``."""
    st = ApiStatus.parse(code, body)
    said = f": {st.message}" if st.message else ""
    who = f"user {req.user!r}" if req.user else "the kubeconfig's user"
    if code == 401:
        return PermanentError(
            f"{req.verb} {req.what}: 401 Unauthorized: the API server does not accept "
            f"{who}'s credentials (expired or wrong client certificate/token?){said}"
        )
    if code == 403:
        return PermanentError(
            f"{req.verb} {req.what}: 403 Forbidden: {who} may not {req.verb} it (RBAC){said}"
        )
    if code == 409 and st.reason == "Conflict" and st.causes:
        owners = conflict_owners(st)
        if owners:
            listed = "; ".join(f"{m!r} owns {', '.join(fs)}" for m, fs in sorted(owners.items()))
            return ConflictError(
                f"{req.verb} {req.what}: server-side apply conflict: {listed}. Remove these "
                "fields from the manifest, or set force_conflicts: true to take them over",
                owners,
            )
    if code in (409, 429) or code >= 500:
        return TemporaryError(
            f"{req.verb} {req.what}: {code} {st.reason or 'error'}{said}",
            delay=retry_after(headers),
        )
    return PermanentError(f"{req.verb} {req.what}: {code} {st.reason or 'error'}{said}")


def transport_error(req: Request, exc: BaseException) -> PermanentError | TemporaryError:
    """Connection refused/reset, read timeout: worth a retry; a certificate that does not
    verify is not (retrying will not make an impostor trustworthy)."""
    reason = getattr(exc, "reason", None) or exc
    if "CERTIFICATE_VERIFY_FAILED" in str(reason) or "doesn't match" in str(reason):
        return PermanentError(
            f"{req.verb} {req.what}: the API server's TLS certificate does not verify against "
            f"the kubeconfig's certificate-authority: {reason}"
        )
    return TemporaryError(f"{req.verb} {req.what}: cannot reach the API server: {reason}")
