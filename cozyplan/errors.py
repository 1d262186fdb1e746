"""Error types shared by the engine and providers.

Providers say what the engine should do next by the error they raise:
``TemporaryError`` is retried with backoff, ``PermanentError`` fails the node.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class CozyplanError(Exception):
    """Base of every error cozyplan raises on purpose (never shown as a traceback)."""


class ProviderError(CozyplanError):
    """An error raised by a provider while talking to a real system."""

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        if self.detail:
            return f"{self.message}\n{self.detail}"
        return self.message


class TemporaryError(ProviderError):
    """Transient failure (lock timeout, 5xx, connection reset, node rebooting): retry it.

    ``delay`` is a hint in seconds for the first retry; the engine adds backoff and jitter.
    ``exhausted=True``: the provider already retried this itself (e.g. per HTTP call) and gave
    up, so the engine must not retry it again: nested retries multiply into hours.
    ``expected=True``: a wait that is part of the plan (a node rebooting), shown as progress
    rather than as an error.
    """

    def __init__(
        self,
        message: str,
        *,
        delay: float | None = None,
        detail: str | None = None,
        exhausted: bool = False,
        expected: bool = False,
    ):
        super().__init__(message, detail=detail)
        self.delay = delay
        self.exhausted = exhausted
        self.expected = expected


class PermanentError(ProviderError):
    """Failure that retrying cannot fix (validation error, rejected config): fail this node."""


class PlanError(CozyplanError):
    """A planned change that can never succeed (e.g. shrinking a disk), found at plan time."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Position:
    file: str
    line: int  # 1-based
    col: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem in the user's input, with where it is."""

    message: str
    position: Position | None = None
    address: str | None = None
    field_path: str | None = None
    related: tuple[Position, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        where = f"{self.position}: " if self.position else ""
        subject = ""
        if self.address and self.field_path:
            subject = f"{self.address}.{self.field_path}: "
        elif self.address:
            subject = f"{self.address}: "
        elif self.field_path:
            subject = f"{self.field_path}: "
        return f"{where}{subject}{self.message}"


class SpecError(CozyplanError):
    """The spec is invalid; carries every problem found, not only the first."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(str(d) for d in diagnostics))


class StateError(CozyplanError):
    """The state file cannot be read, written or locked."""


class LockedError(StateError):
    """Another cozyplan process holds the state lock."""
