"""From a spec file to a validated ``Config``: every problem reported at once, with positions."""

from __future__ import annotations

import contextlib
import difflib
import graphlib
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from cozyplan import registry
from cozyplan.errors import Diagnostic, Position, SpecError
from cozyplan.spec.expr import ExprError, Ref, parse_template, refs_in
from cozyplan.spec.model import META_KEYS, LifecycleSpec, SpecFile, VariableSpec
from cozyplan.spec.view import SpecBlock, SpecView
from cozyplan.spec.yamlpos import Document, YamlPath, load_yaml

if TYPE_CHECKING:
    import networkx as nx

ADDRESS_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+\.[A-Za-z_][A-Za-z0-9_\-]*$")


@dataclass
class ResourceBlock:
    """One ``TYPE.NAME`` entry of the spec, before ``for_each``/``count`` expansion."""

    address: str
    type: str
    name: str
    provider: str
    body: dict[str, Any]
    for_each: Any = None
    count: Any = None
    depends_on: list[str] = field(default_factory=list)
    lifecycle: LifecycleSpec = field(default_factory=LifecycleSpec)
    refs: list[tuple[tuple[str | int, ...], Ref]] = field(default_factory=list)
    _deps: set[str] | None = field(default=None, repr=False, compare=False)

    @property
    def path(self) -> YamlPath:
        return ("resources", self.address)

    @property
    def expanded(self) -> bool:
        return self.for_each is not None or self.count is not None

    def dependencies(self) -> set[str]:
        """Addresses of the resource blocks this one depends on (computed once)."""
        if self._deps is not None:
            return self._deps
        deps = {ref.resource_address() for _, ref in self.refs if ref.is_resource}
        deps.update({_block_of(d) for d in self.depends_on})
        meta_refs = [*refs_in(self.for_each, strict=False), *refs_in(self.count, strict=False)]
        deps.update(ref.resource_address() for _, ref in meta_refs if ref.is_resource)
        self._deps = deps
        return deps


def _block_of(address: str) -> str:
    return address.split("[", 1)[0]


@dataclass
class Config:
    file: Path
    doc: Document
    variables: dict[str, VariableSpec]
    providers: dict[str, dict[str, Any]]
    resources: dict[str, ResourceBlock]
    spec_hash: str

    @property
    def base_dir(self) -> Path:
        return self.file.resolve().parent

    def position(self, path: YamlPath) -> Position | None:
        return self.doc.position(path)

    def graph(self) -> nx.DiGraph:
        """Resource-block DAG: an edge ``dep -> dependent``."""
        import networkx as nx  # loaded by the commands that walk the graph, not by validate

        g = nx.DiGraph()
        for addr, block in self.resources.items():
            g.add_node(addr)
            for dep in block.dependencies():
                if dep in self.resources:
                    g.add_edge(dep, addr)
        return g


class _Collector:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.items: list[Diagnostic] = []

    def add(
        self,
        message: str,
        path: YamlPath,
        *,
        address: str | None = None,
        field_path: str | None = None,
        related: Iterable[Position] = (),
    ) -> None:
        self.items.append(
            Diagnostic(message, self.doc.position(path), address, field_path, tuple(related))
        )


def _loc_str(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _input_has_template(value: Any) -> bool:
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, dict):
        return any(_input_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_input_has_template(v) for v in value)
    return False


def _value_at(data: Any, loc: tuple[str | int, ...]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def settable_fields(model: type[BaseModel]) -> list[str]:
    from cozyplan.schema import schema_of

    return [n for n, f in schema_of(model).fields.items() if f.settable]


def model_errors(
    model: type[BaseModel], body: dict[str, Any], *, defer_templates: bool = True
) -> list[tuple[tuple[str | int, ...], str]]:
    """Pydantic errors as (path, message); errors on a ``${...}`` input wait for its value."""
    try:
        model.model_validate(body)
    except ValidationError as exc:
        out = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            if defer_templates and _input_has_template(_value_at(body, loc)):
                continue
            # a union tries each member; report the location the user wrote, once
            loc = tuple(p for p in loc if not (isinstance(p, str) and "[" in p and "]" in p))
            if err["type"] == "extra_forbidden":
                msg = "unknown field"
                if len(loc) == 1:
                    fields = sorted(settable_fields(model))
                    close = difflib.get_close_matches(str(loc[0]), fields, n=1)
                    if close:
                        msg += f"; did you mean {close[0]!r}?"
                    msg += f" (valid fields: {', '.join(fields)})"
            elif err["type"] == "missing":
                msg = "required field is missing"
            else:
                msg = err["msg"]
            out.append((loc, msg))
        seen: set[tuple[tuple[str | int, ...], str]] = set()
        unique = []
        for item in out:
            if item not in seen:
                seen.add(item)
                unique.append(item)
        return unique
    return []


def decode_text(data: bytes, file: str) -> str:
    """UTF-8 text (a leading byte-order mark allowed), or an error at the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError(
            [
                Diagnostic(
                    f"not UTF-8 text (byte 0x{data[exc.start]:02x}): save the spec as UTF-8",
                    Position(file, line, col),
                )
            ]
        ) from None


def _other_specs(missing: Path) -> str:
    """``; specs here: specs/cozystack.yaml (use -f PATH)``, from the missing file's directory
    and its ``specs/`` folder."""
    base = missing.parent
    found = [p for d in (base, base / "specs") for p in sorted(d.glob("*.y*ml")) if p.is_file()]
    if not found:
        return ""
    names = ", ".join(str(p) for p in found[:5]) + (", ..." if len(found) > 5 else "")
    return f"; specs here: {names} (use -f PATH)"


def load_config(path: Path) -> Config:
    file = str(path)
    try:
        text = decode_text(path.read_bytes(), file)
    except FileNotFoundError:
        raise SpecError([Diagnostic(f"spec file not found: {file}{_other_specs(path)}")]) from None
    except OSError as exc:
        raise SpecError([Diagnostic(f"cannot read spec file {file}: {exc.strerror}")]) from None
    doc = load_yaml(text, file)
    diags = _Collector(doc)
    data = doc.data
    if data is None:
        raise SpecError(
            [
                Diagnostic(
                    "the spec is empty: declare at least 'version: 1' and 'resources:' "
                    "(see docs/spec.md)",
                    Position(file, 1, 1),
                )
            ]
        )
    if not isinstance(data, dict):
        raise SpecError(
            [
                Diagnostic(
                    "the spec must be a mapping (version, variables, providers, resources)",
                    doc.position(()),
                )
            ]
        )
    try:
        top = SpecFile.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            msg = (
                "unknown top-level key"
                if err["type"] == "extra_forbidden"
                else err["msg"].removeprefix("Value error, ")
            )
            diags.add(msg, loc, field_path=_loc_str(loc))
        raise SpecError(diags.items) from None

    resources: dict[str, ResourceBlock] = {}
    for address, raw in top.resources.items():
        rpath: YamlPath = ("resources", address)
        if not ADDRESS_RE.match(address):
            diags.add(
                "resource address must be TYPE.NAME (e.g. local_file.motd)", rpath, address=address
            )
            continue
        rtype, name = address.split(".", 1)
        body = {k: v for k, v in raw.items() if k not in META_KEYS}
        lifecycle = LifecycleSpec()
        if "lifecycle" in raw:
            for loc, msg in model_errors(
                LifecycleSpec, raw["lifecycle"] or {}, defer_templates=False
            ):
                diags.add(
                    msg,
                    (*rpath, "lifecycle", *loc),
                    address=address,
                    field_path=_loc_str(("lifecycle", *loc)),
                )
            with contextlib.suppress(ValidationError):
                lifecycle = LifecycleSpec.model_validate(raw["lifecycle"] or {})
        depends_on = raw.get("depends_on") or []
        if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
            diags.add(
                "depends_on must be a list of resource addresses",
                (*rpath, "depends_on"),
                address=address,
                field_path="depends_on",
            )
            depends_on = []
        block = ResourceBlock(
            address=address,
            type=rtype,
            name=name,
            provider=registry.provider_name_of(rtype),
            body=body,
            for_each=raw.get("for_each"),
            count=raw.get("count"),
            depends_on=list(depends_on),
            lifecycle=lifecycle,
        )
        if block.for_each is not None and block.count is not None:
            diags.add("use for_each or count, not both", (*rpath, "count"), address=address)
        try:
            block.refs = refs_in(body)
        except ExprError:
            for name, value in body.items():  # name the field (and line) that is wrong
                try:
                    refs_in(value)
                except ExprError as exc:
                    diags.add(str(exc), (*rpath, name), address=address, field_path=str(name))
            block.refs = refs_in(body, strict=False)
        resources[address] = block

    cfg = Config(
        file=path,
        doc=doc,
        variables=top.variables,
        providers=top.providers,
        resources=resources,
        spec_hash=hashlib.sha256(text.encode()).hexdigest(),
    )
    _check_providers(cfg, diags)
    for block in resources.values():
        _check_block(cfg, block, diags)
    _check_cycles(cfg, diags)
    _check_across(cfg, diags)
    if diags.items:
        raise SpecError(sorted(diags.items, key=_diag_order))
    return cfg


def _diag_order(d: Diagnostic) -> tuple[int, int]:
    return (d.position.line, d.position.col) if d.position else (0, 0)


def _check_providers(cfg: Config, diags: _Collector) -> None:
    for name, body in cfg.providers.items():
        path: YamlPath = ("providers", name)
        cls = registry.provider_class(name)
        if cls is None:
            diags.add(
                f"unknown provider {name!r} (installed: {', '.join(registry.available())})", path
            )
            continue
        if not isinstance(body, dict):
            diags.add("provider settings must be a mapping", path)
            continue
        for loc, msg in model_errors(cls.config_model, body):
            diags.add(msg, (*path, *loc), field_path=f"providers.{name}.{_loc_str(loc)}")
        _check_refs(cfg, None, refs_in(body), path, diags, allow_resources=False)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the closest candidate, or nothing."""
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _all_types() -> list[str]:
    return [t for p in registry.available() for t in registry.resource_types_of(p)]


def _misspelt(cfg: Config, address: str) -> bool:
    """A reference to TYPE.NAME where a block NAME has an unknown type: that block's error
    (with its "did you mean") is the one to fix; repeating it at every reference is noise."""
    name = address.split("[", 1)[0].split(".", 1)[-1]
    return any(
        b.name == name and registry.resource_class(b.type) is None for b in cfg.resources.values()
    )


def _check_block(cfg: Config, block: ResourceBlock, diags: _Collector) -> None:
    path = block.path
    cls = registry.resource_class(block.type)
    if cls is None:
        if registry.provider_class(block.provider) is None:
            hint = did_you_mean(block.type, _all_types()) or did_you_mean(
                block.provider, registry.available()
            )
            diags.add(
                f"unknown resource type {block.type!r}: no provider {block.provider!r} is "
                f"installed{hint} (installed: {', '.join(registry.available())})",
                path,
                address=block.address,
            )
        else:
            types = ", ".join(registry.resource_types_of(block.provider))
            diags.add(
                f"unknown resource type {block.type!r}{did_you_mean(block.type, _all_types())} "
                f"(provider {block.provider!r} has: {types})",
                path,
                address=block.address,
            )
        return
    schema = cls.schema()
    for name in block.body:
        spec = schema.field(name)
        if spec is not None and not spec.settable:
            diags.add(
                "is computed by the provider and cannot be set in the spec",
                (*path, name),
                address=block.address,
                field_path=name,
            )
    for loc, msg in model_errors(cls.model, block.body):
        if len(loc) == 1 and isinstance(loc[0], str):
            spec = schema.field(loc[0])
            if spec is not None and not spec.settable:
                continue
        diags.add(msg, (*path, *loc), address=block.address, field_path=_loc_str(loc))
    for ignored in block.lifecycle.ignore_changes:
        if ignored not in schema.fields:
            diags.add(
                f"lifecycle.ignore_changes names unknown field {ignored!r}",
                (*path, "lifecycle", "ignore_changes"),
                address=block.address,
            )
    meta_refs: list[tuple[tuple[str | int, ...], Ref]] = []
    for key in ("for_each", "count"):
        value = getattr(block, key)
        if value is None:
            continue
        try:
            found = refs_in(value)
        except ExprError as exc:
            diags.add(str(exc), (*path, key), address=block.address, field_path=key)
            continue
        for _, ref in found:
            if ref.root != "var":
                diags.add(
                    f"{key} may only use variables (it must be known before planning), "
                    f"not {ref.text!r}",
                    (*path, key),
                    address=block.address,
                    field_path=key,
                )
        meta_refs.extend(((key, *p), r) for p, r in found)
        if key == "count" and (
            isinstance(value, bool)
            or not isinstance(value, int | str)
            or (isinstance(value, int) and value < 0)
            or (isinstance(value, str) and not found and not value.strip().isdigit())
        ):
            diags.add(
                "count must be a whole number, 0 or more", (*path, key), address=block.address
            )
        if key == "for_each" and not isinstance(value, dict | list | str):
            diags.add(
                "for_each must be a map or a list of strings", (*path, key), address=block.address
            )
    _check_refs(cfg, block, meta_refs, path, diags, allow_resources=False)
    _check_refs(cfg, block, block.refs, path, diags, allow_resources=True)
    for i, dep in enumerate(block.depends_on):
        if _block_of(dep) not in cfg.resources and not _misspelt(cfg, dep):
            diags.add(
                f"depends_on names unknown resource {dep!r}"
                f"{did_you_mean(_block_of(dep), cfg.resources)}",
                (*path, "depends_on", i),
                address=block.address,
                field_path=f"depends_on[{i}]",
            )


def _check_refs(
    cfg: Config,
    block: ResourceBlock | None,
    refs: list[tuple[tuple[str | int, ...], Ref]],
    base: YamlPath,
    diags: _Collector,
    *,
    allow_resources: bool,
) -> None:
    address = block.address if block else None
    for rel, ref in refs:
        where = (*base, *rel)
        fp = _loc_str(rel) or None
        if ref.root == "var":
            name = str(ref.parts[1])
            if name not in cfg.variables:
                known = ", ".join(sorted(cfg.variables)) or "none"
                hint = did_you_mean(name, cfg.variables)
                diags.add(
                    f"reference to undeclared variable {ref.text!r}{hint} (declared: {known})",
                    where,
                    address=address,
                    field_path=fp,
                )
        elif ref.root == "each":
            if block is None or block.for_each is None:
                diags.add(
                    f"{ref.text!r} is only valid in a resource with for_each",
                    where,
                    address=address,
                    field_path=fp,
                )
        elif ref.root == "count":
            if block is None or block.count is None:
                diags.add(
                    f"{ref.text!r} is only valid in a resource with count",
                    where,
                    address=address,
                    field_path=fp,
                )
        elif ref.root == "self":
            diags.add("'self' references are not supported", where, address=address, field_path=fp)
        else:
            if not allow_resources:
                diags.add(
                    f"{ref.text!r}: only variables may be used here",
                    where,
                    address=address,
                    field_path=fp,
                )
                continue
            target = cfg.resources.get(ref.resource_address())
            if target is None:
                if _misspelt(cfg, ref.resource_address()):
                    continue
                diags.add(
                    f"reference to undeclared resource {ref.resource_address()!r}"
                    f"{did_you_mean(ref.resource_address(), cfg.resources)}",
                    where,
                    address=address,
                    field_path=fp,
                )
                continue
            key = ref.instance_key()
            dynamic = ref.dynamic_key
            need = {"each.key": "for_each", "count.index": "count"}.get(dynamic or "")
            if need is not None and (block is None or getattr(block, need) is None):
                diags.add(
                    f"{ref.text!r}: [{dynamic}] needs {need} on this resource",
                    where,
                    address=address,
                    field_path=fp,
                )
                continue
            if target.expanded and key is None:
                how = "for_each" if target.for_each is not None else "count"
                diags.add(
                    f"{ref.text!r}: {target.address} uses {how}; name one instance, "
                    f"e.g. {target.address}[KEY]",
                    where,
                    address=address,
                    field_path=fp,
                )
                continue
            if not target.expanded and key is not None:
                diags.add(
                    f"{ref.text!r}: {target.address} has a single instance; drop the [{key}]",
                    where,
                    address=address,
                    field_path=fp,
                )
                continue
            if (
                isinstance(target.for_each, dict)
                and key is not None
                and dynamic is None
                and str(key) not in {str(k) for k in target.for_each}
            ):
                diags.add(
                    f"{ref.text!r}: {target.address} has no instance [{key}]",
                    where,
                    address=address,
                    field_path=fp,
                )
                continue
            attrs = ref.attr_path()
            tcls = registry.resource_class(target.type)
            if not attrs:
                diags.add(
                    f"{ref.text!r}: name an attribute, e.g. {ref.text}.id",
                    where,
                    address=address,
                    field_path=fp,
                )
            elif tcls is not None and attrs[0] not in tcls.model.model_fields:
                fields = ", ".join(sorted(tcls.model.model_fields))
                hint = did_you_mean(str(attrs[0]), tcls.model.model_fields)
                diags.add(
                    f"{ref.text!r}: {target.type} has no attribute {attrs[0]!r}{hint} "
                    f"(attributes: {fields})",
                    where,
                    address=address,
                    field_path=fp,
                )


def _check_cycles(cfg: Config, diags: _Collector) -> None:
    # the common case (no cycle) with the standard library; networkx only to report cycles
    order = graphlib.TopologicalSorter(
        {addr: block.dependencies() & cfg.resources.keys() for addr, block in cfg.resources.items()}
    )
    try:
        order.prepare()
    except graphlib.CycleError:
        pass
    else:
        return
    import networkx as nx

    g = cfg.graph()
    for component in nx.strongly_connected_components(g):
        nodes = sorted(component)
        if len(nodes) == 1 and not g.has_edge(nodes[0], nodes[0]):
            continue
        sub = g.subgraph(nodes)
        cycle = [u for u, _ in nx.find_cycle(sub, source=nodes[0])]
        # edges point dep -> dependent; show "A depends on B depends on ... on A"
        loop = list(reversed(cycle))
        first = loop.index(min(loop))
        loop = loop[first:] + loop[:first]
        text = " -> ".join([*loop, loop[0]])
        related = [p for a in loop if (p := cfg.position(("resources", a))) is not None]
        diags.add(
            f"dependency cycle: {text} (each depends on the next)",
            ("resources", loop[0]),
            address=loop[0],
            related=related[1:],
        )


def _check_across(cfg: Config, diags: _Collector) -> None:
    """Each provider the spec uses checks the whole spec (``Provider.validate_spec``)."""
    blocks = {
        a: SpecBlock(a, b.type, b.body, b.for_each)
        for a, b in cfg.resources.items()
        if registry.resource_class(b.type) is not None
    }

    def locate(address: str, path: tuple[str | int, ...]) -> str | None:
        pos = _nearest_position(cfg, ("resources", address, *path))
        return str(pos) if pos else None

    view = SpecView(blocks, cfg.variables, locate)
    for name in sorted({b.provider for b in cfg.resources.values()}):
        cls = registry.provider_class(name)
        if cls is None:
            continue
        for problem in cls.validate_spec(view):
            related = [
                p
                for addr, rel in problem.related
                if (p := _nearest_position(cfg, ("resources", addr, *rel))) is not None
            ]
            diags.items.append(
                Diagnostic(
                    problem.message,
                    _nearest_position(cfg, ("resources", problem.address, *problem.path)),
                    problem.address,
                    _loc_str(problem.path) or None,
                    tuple(related),
                )
            )


def _nearest_position(cfg: Config, path: YamlPath) -> Position | None:
    """The position of ``path``, or of its closest ancestor written in the file."""
    while path:
        pos = cfg.position(path)
        if pos is not None:
            return pos
        path = path[:-1]
    return None


def template_ok(value: str) -> bool:
    try:
        parse_template(value)
    except ExprError:
        return False
    return True
