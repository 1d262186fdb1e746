"""Saved plans (``plan --out FILE``): what was decided, against which state and spec.

A saved plan holds no secret (values are masked) and no unknown-value machinery: ``apply FILE``
re-plans under the state lock and refuses unless the spec, the state lineage/serial, the set of
(address, action) pairs and a salted digest of every value to be written are exactly what was
reviewed (so a changed variable, environment variable or file is caught too).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cozyplan import __version__
from cozyplan.errors import CozyplanError
from cozyplan.planner import Plan, PlanOptions
from cozyplan.render.human import Styler, render_plan
from cozyplan.render.jsonout import plan_document
from cozyplan.state.envelope import Encryption, is_envelope, open_maybe
from cozyplan.state.store import write_atomic

KIND = "cozyplan-plan"
CONTEXT = "cozyplan-plan"


class StalePlan(CozyplanError):
    pass


def values_digest(plan: Plan, salt: str) -> str:
    """A salted digest of every planned value (secrets included, never stored themselves)."""
    h = hashlib.sha256(salt.encode())
    for c in plan.actionable:
        h.update(
            json.dumps([c.address, c.action.value, c.after], sort_keys=True, default=repr).encode()
        )
    return h.hexdigest()


def save_plan(
    path: Path,
    plan: Plan,
    spec: Path,
    state_path: Path,
    lab: bool,
    *,
    workspace: str = "default",
    encryption: Encryption | None = None,
) -> None:
    """With whole-state encryption configured, the plan file is sealed with the same key."""
    salt = secrets.token_hex(16)
    data = {
        "kind": KIND,
        "cozyplan_version": __version__,
        "spec": str(spec),
        "state": str(state_path),
        "workspace": workspace,
        "lab": lab,
        "options": asdict(plan.options),
        "lineage": plan.lineage,
        "serial": plan.serial,
        "spec_sha256": plan.spec_hash,
        "actions": [[c.address, c.action.value] for c in plan.actionable],
        "values_salt": salt,
        "values_sha256": values_digest(plan, salt),
        "document": plan_document(plan),
        "text": render_plan(plan, Styler(False)),
    }
    payload = json.dumps(data, indent=1).encode()
    if encryption is not None:
        payload = encryption.seal(payload, CONTEXT)
    write_atomic(path, payload, mode=0o600)


def load_plan(path: Path, encryption: Encryption | None = None) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CozyplanError(f"plan file not found: {path}") from None
    if is_envelope(raw):
        raw = open_maybe(raw, encryption, CONTEXT, f"the plan file {path}")
    try:
        data: dict[str, Any] = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CozyplanError(f"{path} is not a cozyplan plan file") from None
    if data.get("kind") != KIND:
        raise CozyplanError(f"{path} is not a cozyplan plan file")
    return data


def options_of(saved: dict[str, Any]) -> PlanOptions:
    o = saved["options"]
    return PlanOptions(
        mode=o["mode"],
        refresh=o["refresh"],
        targets=tuple(o["targets"]),
        replace=tuple(o["replace"]),
        parallelism=o["parallelism"],
    )


def check_fresh(saved: dict[str, Any], plan: Plan) -> None:
    """Refuse to apply a saved plan that no longer describes what would happen."""
    if saved["spec_sha256"] != plan.spec_hash:
        raise StalePlan(
            "the saved plan is stale: the spec file changed since it was made; "
            "run 'cozyplan plan' again"
        )
    if saved["lineage"] != plan.lineage:
        raise StalePlan(
            "the saved plan was made for a different state (lineage "
            f"{saved['lineage']}, the state is {plan.lineage})"
        )
    if saved["serial"] != plan.serial:
        raise StalePlan(
            f"the saved plan is stale: the state changed since it was made (serial "
            f"{saved['serial']} -> {plan.serial}); run 'cozyplan plan' again"
        )
    now = [[c.address, c.action.value] for c in plan.actionable]
    if now != saved["actions"]:
        before = {tuple(a) for a in saved["actions"]}
        after = {tuple(a) for a in now}
        diff = sorted((after - before) | (before - after))
        listed = ", ".join(f"{a} ({act})" for a, act in diff[:5])
        raise StalePlan(
            "the saved plan is stale: the real systems changed since it was made "
            f"({listed}); run 'cozyplan plan' again"
        )
    if values_digest(plan, saved["values_salt"]) != saved["values_sha256"]:
        raise StalePlan(
            "the saved plan is stale: the values it would write changed since it was made "
            "(a variable, an environment variable or a file it reads); run 'cozyplan plan' again"
        )
