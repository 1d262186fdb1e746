"""Which (shape, N, tool, parallelism) combinations a run measures."""

from __future__ import annotations

from dataclasses import dataclass

from bench.shapes import SHAPES

Sizes = dict[str, tuple[int, ...]]


def _with_warm(sizes: Sizes) -> Sizes:
    """``sizes``, and a shape measured with a command server at the sizes of the one it repeats."""
    return {**sizes, **{n: sizes[s.warm_of] for n, s in SHAPES.items() if s.warm_of}}


DEFAULT_SIZES: Sizes = _with_warm(
    {
        "chain": (1000,),
        "fanout": (1, 1000, 10000),  # N=1: the fixed cost of one invocation
        "sleep": (100,),
        "journal": (1000,),
        "startup": (1,),
        "cozystack": (1,),  # N is ignored: the main spec as it is
        "vm": (100, 300, 1000),  # the series shows whether the lab stays linear
        "vm-bg": (100, 1000),  # beside the in-process lab: at 100 its start-up shows, at 1000 not
    }
)
QUICK_SIZES: Sizes = _with_warm(
    {
        "chain": (10,),
        "fanout": (20,),
        "sleep": (5,),
        "journal": (10,),
        "startup": (1,),
        "cozystack": (1,),
        "vm": (3,),
        "vm-bg": (3,),
    }
)
DEFAULT_SLEEP_S = 1.0
QUICK_SLEEP_S = 0.2
# Terraform is measured only up to these N (its chain is quadratic: 1,000 takes minutes);
# --terraform-large lifts the limit.
TERRAFORM_MAX_N: dict[str, int] = {
    "chain": 1000,
    "fanout": 1000,
    "sleep": 1000,
    "journal": 0,  # its Terraform counterpart is the chain's (the same HCL): measured once
    "startup": 1,
    "cozystack": 0,
    "vm": 0,
    "vm-bg": 0,
}
DEFAULT_PARALLELISM = 10


@dataclass(frozen=True)
class Case:
    shape: str
    n: int
    tool: str
    parallelism: int


def parse_sizes(values: list[str], shapes: list[str]) -> dict[str, tuple[int, ...]]:
    """``--sizes 10,100`` applies to every selected shape; ``--sizes chain=1000`` to one.

    >>> parse_sizes(["chain=5,50", "200"], ["chain", "fanout"])
    {'chain': (5, 50), 'fanout': (200,)}
    """
    every: tuple[int, ...] | None = None
    per: dict[str, tuple[int, ...]] = {}
    for value in values:
        name, sep, nums = value.partition("=")
        if not sep:
            name, nums = "", value
        elif name not in SHAPES:
            raise ValueError(f"--sizes: unknown shape {name!r} (one of {', '.join(SHAPES)})")
        try:
            sizes = tuple(int(x) for x in nums.split(",") if x.strip())
        except ValueError:
            raise ValueError(f"--sizes: not a list of integers: {nums!r}") from None
        if not sizes or min(sizes) < 1:
            raise ValueError(f"--sizes: sizes must be positive integers: {value!r}")
        if name:
            per[name] = sizes
        else:
            every = sizes
    return {s: per.get(s, every or ()) for s in shapes if per.get(s, every)}


def parallelisms(shape: str, n: int, quick: bool) -> tuple[int, ...]:
    """The sleep shape measures the walker: at the default 10 and with one slot per command."""
    if not SHAPES[shape].sleeps:
        return (DEFAULT_PARALLELISM,)
    if quick:
        return (n,)
    return tuple(sorted({DEFAULT_PARALLELISM, n}))


def build_cases(
    sizes: dict[str, tuple[int, ...]], *, terraform: bool, terraform_large: bool, quick: bool
) -> list[Case]:
    cases: list[Case] = []
    for shape, ns in sizes.items():
        for n in ns:
            for par in parallelisms(shape, n, quick):
                cases.append(Case(shape, n, "cozyplan", par))
                if SHAPES[shape].terraform is None:
                    continue  # the lab shapes have no Terraform counterpart
                if terraform and (terraform_large or n <= TERRAFORM_MAX_N[shape]):
                    cases.append(Case(shape, n, "terraform", par))
    return cases
