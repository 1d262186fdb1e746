"""Special values that flow through planning: unknown-until-apply values."""

from __future__ import annotations

from typing import Any, Final


class _Unknown:
    """A value known only after apply. A singleton; renders as ``(known after apply)``."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "(known after apply)"

    def __reduce__(self) -> str:
        return "UNKNOWN"

    def __deepcopy__(self, memo: dict[int, Any]) -> _Unknown:
        return self

    def __copy__(self) -> _Unknown:
        return self


UNKNOWN: Final = _Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def contains_unknown(value: Any) -> bool:
    """True when ``value`` or anything nested in it is unknown."""
    if value is UNKNOWN:
        return True
    # explicit loops: generator expressions cost more than the walk itself on big plans
    if isinstance(value, dict):
        for v in value.values():
            if v is UNKNOWN or (isinstance(v, dict | list | tuple) and contains_unknown(v)):
                return True
        return False
    if isinstance(value, list | tuple):
        for v in value:
            if v is UNKNOWN or (isinstance(v, dict | list | tuple) and contains_unknown(v)):
                return True
    return False
