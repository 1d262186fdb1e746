"""Progress events emitted while applying; the CLI decides how to show them."""

from __future__ import annotations

from typing import Protocol

from cozyplan.plan import Action


class ProgressSink(Protocol):
    def started(self, address: str, action: Action) -> None: ...

    def still_running(self, address: str, action: Action, elapsed: float) -> None: ...

    def finished(self, address: str, action: Action, elapsed: float, ident: str | None) -> None: ...

    def failed(
        self, address: str, action: Action, elapsed: float, error: BaseException
    ) -> None: ...

    def retrying(self, address: str, attempt: int, error: BaseException, wait: float) -> None: ...

    def message(self, address: str, text: str) -> None: ...


class NullProgress:
    def started(self, address: str, action: Action) -> None:
        pass

    def still_running(self, address: str, action: Action, elapsed: float) -> None:
        pass

    def finished(self, address: str, action: Action, elapsed: float, ident: str | None) -> None:
        pass

    def failed(self, address: str, action: Action, elapsed: float, error: BaseException) -> None:
        pass

    def retrying(self, address: str, attempt: int, error: BaseException, wait: float) -> None:
        pass

    def message(self, address: str, text: str) -> None:
        pass
