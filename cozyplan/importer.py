"""``cozyplan import``: bring an existing object under management, in the spec's form."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from cozyplan.errors import PermanentError
from cozyplan.instances import Instance, Variables
from cozyplan.planner import Evaluator
from cozyplan.provider import Resource
from cozyplan.providers import ProviderSet
from cozyplan.spec.expr import ExprError
from cozyplan.state.model import State
from cozyplan.values import contains_unknown


async def import_instance(
    inst: Instance,
    resource: Resource[Any, Any],
    import_id: str,
    state: State,
    variables: Variables,
    resources: ProviderSet,
) -> dict[str, Any] | None:
    """The object's attributes as a later ``read`` would report them, or None if absent.

    The provider's ``import_resource`` identifies the object. Reading it back through a model
    seeded with the spec's own values keeps the spec's form (fields the spec leaves open stay
    open), and fields the real system cannot tell (``import_unknowable``, e.g. which template a VM
    was cloned from) come from the spec instead of forcing a replacement on the next plan.
    """
    try:
        found = await resource.import_resource(import_id)
    except ValueError as exc:
        raise PermanentError(f"{inst.address}: bad import id {import_id!r}: {exc}") from None
    if found is None:
        return None
    identity = resource.dump(found)
    ev = Evaluator(variables, resources)  # other resources may not be in the state yet
    for address, rs in state.resources.items():
        if rs.observed is not None:
            ev.values[address] = (rs.observed, rs.sensitive_paths)
    try:
        desired, _ = ev.evaluate(inst)
    except ExprError:
        desired = {}
    seed = {k: v for k, v in desired.items() if not contains_unknown(v)}
    unknowable = set(resource.import_unknowable)
    told = found.model_fields_set  # what the import really read, not model defaults
    seed.update(
        {k: v for k, v in identity.items() if k in told and v is not None and k not in unknowable}
    )
    try:
        model = resource.parse(seed)
    except ValidationError:
        return identity
    current = await resource.read(model)
    return identity if current is None else resource.dump(current)
