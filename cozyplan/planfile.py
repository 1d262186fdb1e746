"""Saved plans (``plan --out FILE``): what was decided, against which state and spec.

A saved plan holds no secret in clear (values are masked; a sensitive ``--var`` value is
encrypted with the state's key) and no unknown-value machinery: ``apply FILE`` re-plans under the
state lock, in the context the plan was made in (spec, state, lab directory, ``--var`` values),
and refuses unless the spec, the state lineage/serial, the set of (address, action) pairs and a
salted digest of every value to be written are exactly what was reviewed (so a changed
environment variable or file is caught too).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from cozyplan import __version__
from cozyplan.errors import CozyplanError
from cozyplan.planner import Plan, PlanOptions
from cozyplan.render.human import Styler, render_plan
from cozyplan.render.jsonout import plan_document
from cozyplan.state.crypto import StateCipher, is_sealed
from cozyplan.state.envelope import Encryption, is_envelope, open_maybe
from cozyplan.state.files import describe
from cozyplan.state.store import write_atomic

KIND = "cozyplan-plan"
CONTEXT = "cozyplan-plan"  # bound to the ciphertext of a sealed plan file


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


@dataclass
class PlanContext:
    """Where a plan was made: what ``apply FILE`` must use again."""

    spec: Path
    state: Path
    lab_dir: Path | None = None  # None: not against the lab
    time_scale: float | None = None
    #: ``--var`` values; those of sensitive variables are sealed with the state key when saved
    variables: Mapping[str, str] = field(default_factory=dict)
    sensitive: frozenset[str] = frozenset()
    workspace: str = "default"
    #: the key of sensitive values of the state (default: the key file beside a local state)
    cipher: StateCipher | None = None
    #: whole-state encryption: the plan file is sealed with it too
    encryption: Encryption | None = None


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    mode: Literal["normal", "destroy", "refresh-only"]
    refresh: StrictBool
    targets: list[StrictStr]
    replace: list[StrictStr]
    parallelism: StrictInt = Field(ge=1)
    adopt: list[StrictStr] = []  # absent in plans made before --adopt existed


class _PlanFile(BaseModel):
    """The checked shape of a plan file; only what ``apply`` and ``show`` use."""

    model_config = ConfigDict(extra="ignore", strict=True)
    kind: Literal["cozyplan-plan"]
    spec: StrictStr = Field(min_length=1)
    state: StrictStr = Field(min_length=1)
    workspace: StrictStr = "default"
    lab: StrictBool
    lab_dir: StrictStr | None = None
    time_scale: float | None = Field(None, gt=0, strict=False)
    variables: dict[StrictStr, StrictStr | dict[StrictStr, StrictStr]] = {}
    options: _Options
    lineage: StrictStr
    serial: StrictInt = Field(ge=0)
    spec_sha256: StrictStr = Field(pattern="^[0-9a-f]{64}$")
    actions: list[Annotated[list[StrictStr], Field(min_length=2, max_length=2)]]
    values_salt: StrictStr
    values_sha256: StrictStr = Field(pattern="^[0-9a-f]{64}$")
    document: dict[str, Any]
    text: StrictStr


def save_plan(path: Path, plan: Plan, context: PlanContext) -> None:
    salt = secrets.token_hex(16)
    cipher = context.cipher or StateCipher.for_state(context.state)
    variables = {
        name: cipher.seal(value) if name in context.sensitive else value
        for name, value in context.variables.items()
    }
    data = {
        "kind": KIND,
        "cozyplan_version": __version__,
        "spec": str(context.spec),
        "state": str(context.state),
        "workspace": context.workspace,
        "lab": context.lab_dir is not None,
        "lab_dir": None if context.lab_dir is None else str(context.lab_dir),
        "time_scale": context.time_scale,
        "variables": variables,
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
    if context.encryption is not None:
        payload = context.encryption.seal(payload, CONTEXT)
    write_atomic(path, payload, mode=0o600)


def load_plan(path: Path, encryption: Encryption | None = None) -> dict[str, Any]:
    """``encryption``: the key of a plan file sealed with whole-state encryption."""
    try:
        raw = path.read_bytes()
        if is_envelope(raw):
            raw = open_maybe(raw, encryption, CONTEXT, f"the plan file {path}")
        data: Any = json.loads(raw)
    except FileNotFoundError:
        raise CozyplanError(f"plan file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CozyplanError(f"{path} is not a cozyplan plan file (not JSON)") from None
    except OSError as exc:
        raise CozyplanError(f"cannot read plan file {path}: {exc.strerror}") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise CozyplanError(f"{path} is not a cozyplan plan file")
    try:
        _PlanFile.model_validate(data)
    except ValidationError as exc:
        raise CozyplanError(
            f"{path} is a damaged plan file ({describe(exc)}); make a new one with "
            "'cozyplan plan --out FILE'"
        ) from None
    return data


def saved_context(saved: dict[str, Any], cipher: StateCipher | None = None) -> PlanContext:
    """The context a loaded plan was made in, sensitive ``--var`` values decrypted (with
    ``cipher``, the state's key of sensitive values)."""
    state = Path(saved["state"])
    cipher = cipher or StateCipher.for_state(state)
    variables = {
        name: str(cipher.open(value)) if is_sealed(value) else str(value)
        for name, value in saved.get("variables", {}).items()
    }
    lab_dir = saved.get("lab_dir")
    if lab_dir is None and saved["lab"]:
        lab_dir = ".lab"  # a plan saved before the lab directory was recorded
    return PlanContext(
        spec=Path(saved["spec"]),
        state=state,
        lab_dir=None if lab_dir is None else Path(lab_dir),
        time_scale=saved.get("time_scale"),
        variables=variables,
        sensitive=frozenset(n for n, v in saved.get("variables", {}).items() if is_sealed(v)),
        workspace=saved.get("workspace", "default"),
        cipher=cipher,
    )


def options_of(saved: dict[str, Any]) -> PlanOptions:
    o = saved["options"]
    return PlanOptions(
        mode=o["mode"],
        refresh=o["refresh"],
        targets=tuple(o["targets"]),
        replace=tuple(o["replace"]),
        parallelism=o["parallelism"],
        adopt=tuple(o.get("adopt", ())),
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
