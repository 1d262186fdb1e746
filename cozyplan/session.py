"""One command's work: spec + state + providers (+ the lab), independent of the CLI."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cozyplan import registry
from cozyplan.instances import Variables, resolve_variables
from cozyplan.providers import ProviderSet
from cozyplan.retry import RetryPolicy
from cozyplan.spec.config import Config, load_config
from cozyplan.state.model import State
from cozyplan.state.settings import state_target

if TYPE_CHECKING:
    from cozyplan.lab.runtime import LabHandle


#: under the lab directory: the files a rehearsal writes where the spec names a path
LAB_FILES = "files"


def default_state_path(spec: Path, lab_dir: Path | None) -> Path:
    name = f"{spec.stem}.state.json"
    if lab_dir is not None:
        return lab_dir / "state" / name  # rehearsals never touch the real state
    return Path("state") / name


@dataclass
class Session:
    spec_path: Path
    state_path: Path
    lab: LabHandle | None = None
    var_overrides: Mapping[str, str] | None = None
    workspace: str | None = None
    backend_config: tuple[str, ...] = ()
    rehearsal: bool = False  # --lab: the lab is attached later

    def __post_init__(self) -> None:
        self.target = state_target(
            self.spec_path,
            self.state_path,
            self.workspace,
            self.backend_config,
            lab=self.rehearsal or self.lab is not None,
        )
        self.workspace = self.target.workspace
        self.store = self.target.store()
        self._cfg: Config | None = None
        self._vars: Variables | None = None
        self.state: State | None = None
        self.resources: ProviderSet | None = None
        self.loaded_serial = 0

    @property
    def cfg(self) -> Config:
        if self._cfg is None:
            self._cfg = load_config(self.spec_path)
        return self._cfg

    @property
    def variables(self) -> Variables:
        if self._vars is None:
            self._vars = resolve_variables(self.cfg, self.var_overrides)
        return self._vars

    @property
    def time_scale(self) -> float:
        return self.lab.time_scale if self.lab is not None else 1.0

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(time_scale=self.time_scale)

    def secrets(self) -> list[str]:
        try:
            return self.variables.sensitive_values()
        except Exception:
            return []

    @contextlib.contextmanager
    def locked(self, operation: str) -> Iterator[State]:
        """Lock the state, load it (folding in a crashed run's journal), unlock at the end."""
        self.store.lock(operation)
        try:
            state = self.store.load()
            if self.store.replayed or self.store.has_journal():
                self.store.write(state)  # a previous run died: fold its journal in now
            self.state = state
            self.loaded_serial = state.serial
            yield state
        finally:
            self.store.unlock()

    def save(self) -> None:
        """Fold this run's journal into a new snapshot, if anything was recorded."""
        if self.state is not None and (
            self.state.serial != self.loaded_serial or self.store.has_journal()
        ):
            self.store.write(self.state)

    def provider_set(self, with_config: bool = True) -> ProviderSet:
        lab = self.lab
        overlay = None
        resolve = None
        if lab is not None:
            settings: dict[str, dict[str, Any]] | None = None

            def overlay_fn(name: str) -> Mapping[str, Any]:
                nonlocal settings
                if settings is None:
                    # A lab of this command's own is still starting in its process: load the
                    # spec's providers first, then wait for it (not the other way round).
                    if with_config:
                        for block in self.cfg.resources.values():
                            with contextlib.suppress(Exception):  # reported where it is used
                                registry.provider_class(block.provider)
                    settings = lab.provider_settings()
                return settings.get(name, {})

            overlay = overlay_fn
            resolve = lab.resolve
        self.resources = ProviderSet(
            self.cfg if with_config else None,
            self.variables if with_config else None,
            base_dir=self.cfg.base_dir if with_config else Path.cwd(),
            resolve_endpoint=resolve,
            overlay=overlay,
            time_scale=self.time_scale,
            # a rehearsal writes the files the spec names under the lab directory
            output_root=lab.dir / LAB_FILES if lab is not None else None,
        )
        return self.resources
