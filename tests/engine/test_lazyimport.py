"""Client libraries load when a provider first talks to a system, not with the provider."""

from __future__ import annotations

import json
import subprocess
import sys

from cozyplan.lazyimport import lazy


def _loaded_after(code: str, modules: list[str]) -> dict[str, bool]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m in sys.modules for m in {modules!r}]))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return dict(zip(modules, json.loads(out), strict=True))


def test_a_lazy_module_imports_on_first_attribute() -> None:
    loaded = _loaded_after(
        "from cozyplan.lazyimport import lazy\nm = lazy('colorsys')", ["colorsys"]
    )
    assert loaded == {"colorsys": False}
    used = _loaded_after(
        "from cozyplan.lazyimport import lazy\nm = lazy('colorsys')\nm.rgb_to_hsv(1, 0, 0)",
        ["colorsys"],
    )
    assert used == {"colorsys": True}


def test_the_stand_in_gives_the_real_module_attributes() -> None:
    import colorsys

    stand_in = lazy("colorsys")
    assert stand_in.rgb_to_hsv is colorsys.rgb_to_hsv
    assert "colorsys" in repr(stand_in)


def test_a_missing_module_fails_when_used() -> None:
    stand_in = lazy("cozyplan_no_such_module")
    try:
        stand_in.anything  # noqa: B018
    except ModuleNotFoundError as exc:
        assert exc.name == "cozyplan_no_such_module"
    else:
        raise AssertionError("a missing module must fail on first use")


def test_validating_host_and_talos_specs_loads_no_ssh_or_grpc_client() -> None:
    # what `cozyplan validate` imports: the providers and their models, not their clients
    loaded = _loaded_after(
        "import cozyplan_host, cozyplan_talos, cozyplan_talos.resources",
        ["asyncssh", "grpclib", "talos_linux_api"],
    )
    assert loaded == {"asyncssh": False, "grpclib": False, "talos_linux_api": False}
