"""Which backend and workspace a command uses, from the spec, the environment and the CLI.

Precedence, highest first: ``--backend-config KEY=VALUE`` (``type=postgres`` picks the backend),
the environment (``COZYPLAN_BACKEND``, ``COZYPLAN_PG_CONN_STR``, ``COZYPLAN_STATE_ENCRYPTION``),
then the spec's ``backend:`` block. Credentials are never read from the spec.

The workspace: ``--workspace``, else ``COZYPLAN_WORKSPACE``, else the one selected with
``cozyplan workspace select`` (kept in ``.cozyplan/<spec stem>.workspace`` beside the spec),
else ``default``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from cozyplan.errors import Diagnostic, SpecError, StateError
from cozyplan.spec.model import BackendSpec
from cozyplan.state.backend import DEFAULT_WORKSPACE, Location
from cozyplan.state.crypto import StateCipher
from cozyplan.state.envelope import configured
from cozyplan.state.local import WORKSPACE_RE, LocalLocation
from cozyplan.state.store import StateStore

BACKENDS = ("local", "postgres", "kubernetes")
BACKEND_KEYS = {
    "local": {"type", "encryption", "state_key_file"},
    "postgres": {"type", "conn_str", "schema", "encryption", "state_key_file"},
    "kubernetes": {
        "type",
        "namespace",
        "secret_prefix",
        "config_path",
        "context",
        "lease_seconds",
        "encryption",
        "state_key_file",
    },
}
_BACKEND_LINE = re.compile(r"^backend\s*:", re.MULTILINE)


@dataclass
class BackendSettings:
    type: str = "local"
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def resolve(
        cls,
        spec: Path | None,
        cli_pairs: tuple[str, ...] = (),
        env: Mapping[str, str] | None = None,
    ) -> BackendSettings:
        env = os.environ if env is None else env
        block = spec_backend(spec) if spec is not None else None
        settings = cls()
        if block is not None:
            settings.type = block.type
            for key, value in block.model_dump(by_alias=True, exclude_none=True).items():
                if key != "type":
                    settings.options[key] = str(value)
        if env.get("COZYPLAN_BACKEND"):
            settings.type = env["COZYPLAN_BACKEND"]
        for pair in cli_pairs:
            key, sep, value = pair.partition("=")
            if not sep:
                raise StateError(f"--backend-config: expected KEY=VALUE, got {pair!r}")
            if key.strip() == "type":
                settings.type = value.strip()
            else:
                settings.options[key.strip()] = value
        if settings.type not in BACKENDS:
            raise StateError(
                f"unknown state backend {settings.type!r} (one of {', '.join(BACKENDS)})"
            )
        unknown = set(settings.options) - BACKEND_KEYS[settings.type]
        if unknown:
            raise StateError(
                f"the {settings.type} backend has no setting {', '.join(sorted(unknown))} "
                f"(it has {', '.join(sorted(BACKEND_KEYS[settings.type] - {'type'}))})"
            )
        if settings.type == "postgres" and "conn_str" not in settings.options:
            conn = env.get("COZYPLAN_PG_CONN_STR")
            if conn:
                settings.options["conn_str"] = conn
        return settings


def spec_backend(spec: Path) -> BackendSpec | None:
    """The spec's ``backend:`` block, validated (with its position when wrong)."""
    try:
        text = spec.read_text()
    except OSError:
        return None  # state commands work without a spec; plan reports a missing one itself
    if not _BACKEND_LINE.search(text):
        return None
    from cozyplan.spec.yamlpos import load_yaml

    doc = load_yaml(text, str(spec))
    data = doc.data.get("backend") if isinstance(doc.data, dict) else None
    if data is None:
        return None
    try:
        return BackendSpec.model_validate(data)
    except ValidationError as exc:
        diags = []
        for err in exc.errors(include_url=False):
            loc = ("backend", *err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown backend setting"
            diags.append(Diagnostic(msg, doc.position(loc) or doc.position(("backend",))))
        raise SpecError(diags) from None


def default_schema(spec: Path) -> str:
    stem = re.sub(r"[^a-z0-9_]", "_", spec.stem.lower()) or "state"
    return f"cozyplan_{stem}"


def open_location(settings: BackendSettings, spec: Path, state_path: Path) -> Location:
    """``state_path`` is the local state file of the default workspace (``--state`` or the
    default); only the local backend uses it."""
    encryption = configured(settings.options.get("encryption"), "the backend's encryption")
    if settings.type == "postgres":
        from cozyplan.state.postgres import PostgresLocation

        return PostgresLocation(
            settings.options.get("conn_str", ""),
            settings.options.get("schema") or default_schema(spec),
            encryption=encryption,
        )
    if settings.type == "kubernetes":
        from cozyplan.state.kubernetes import KubernetesLocation

        opts = settings.options
        try:
            lease = int(opts.get("lease_seconds", 30))
        except ValueError:
            raise StateError(
                f"lease_seconds must be a number, not {opts['lease_seconds']!r}"
            ) from None
        return KubernetesLocation(
            opts.get("namespace") or "cozyplan",
            opts.get("secret_prefix") or default_schema(spec).replace("_", "-"),
            config_path=opts.get("config_path"),
            context=opts.get("context"),
            lease_seconds=lease,
            encryption=encryption,
        )
    return LocalLocation(state_path, encryption=encryption)


def sensitive_cipher(location: Location, settings: BackendSettings, workspace: str) -> StateCipher:
    env_key = os.environ.get("COZYPLAN_STATE_KEY")
    if env_key:
        return StateCipher(key=env_key.encode())
    key_file = settings.options.get("state_key_file")
    if key_file:
        return StateCipher(key_file=Path(key_file).expanduser())
    beside = location.sensitive_key_file(workspace)
    if beside is not None:
        return StateCipher(key_file=beside)
    return StateCipher(
        missing_hint=(
            f"a sensitive value must be encrypted but the {settings.type} backend keeps no key: "
            "set COZYPLAN_STATE_KEY (a Fernet key) or the backend's state_key_file"
        )
    )


def check_workspace_name(name: str) -> str:
    if not WORKSPACE_RE.match(name):
        raise StateError(
            f"{name!r} is not a workspace name (lowercase letters, digits, '-' and '_', "
            "at most 40, starting with a letter or digit)"
        )
    return name


def selection_file(spec: Path) -> Path:
    return spec.resolve().parent / ".cozyplan" / f"{spec.stem}.workspace"


def current_workspace(spec: Path, explicit: str | None = None) -> str:
    if explicit:
        return check_workspace_name(explicit)
    env = os.environ.get("COZYPLAN_WORKSPACE")
    if env:
        return check_workspace_name(env)
    try:
        selected = selection_file(spec).read_text().strip()
    except OSError:
        return DEFAULT_WORKSPACE
    return check_workspace_name(selected) if selected else DEFAULT_WORKSPACE


def select_workspace(spec: Path, name: str) -> None:
    from cozyplan.state.local import write_atomic

    write_atomic(selection_file(spec), (name + "\n").encode(), mode=0o644)


@dataclass
class StateTarget:
    """Everything a command needs to reach one workspace's state."""

    settings: BackendSettings
    location: Location
    workspace: str

    def store(self) -> StateStore:
        backend = self.location.backend(self.workspace)
        return StateStore(backend, sensitive_cipher(self.location, self.settings, self.workspace))


def state_target(
    spec: Path,
    state_path: Path,
    workspace: str | None = None,
    backend_pairs: tuple[str, ...] = (),
    *,
    lab: bool = False,
) -> StateTarget:
    """``state_path``: the local state file of the default workspace. A lab rehearsal always
    uses the local backend (in the lab dir) unless --backend-config says otherwise: it never
    touches a shared state by accident."""
    explicit = bool(backend_pairs)
    settings = (
        BackendSettings() if lab and not explicit else BackendSettings.resolve(spec, backend_pairs)
    )
    location = open_location(settings, spec, state_path)
    return StateTarget(settings, location, current_workspace(spec, workspace))
