"""Who may do what: ``system:masters`` may do everything (as the real authorizer's short
circuit); everyone else is checked against RBAC Roles/ClusterRoles bound to them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cozyplan.lab.kube.errors import StatusError

if TYPE_CHECKING:
    from cozyplan.lab.kube.http import Target, User
    from cozyplan.lab.kube.store import Store

_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def verb_of(method: str, target: Target, watching: bool) -> str:
    if method == "GET":
        if watching:
            return "watch"
        return "get" if target.name else "list"
    if method == "DELETE" and not target.name:
        return "deletecollection"
    return _VERBS.get(method, method.lower())


def _rule_allows(rule: dict[str, Any], verb: str, group: str, resource: str, name: str) -> bool:
    def has(values: list[str] | None, want: str) -> bool:
        return bool(values) and ("*" in values or want in values)  # type: ignore[operator]

    if not has(rule.get("verbs"), verb) or not has(rule.get("apiGroups"), group):
        return False
    if not has(rule.get("resources"), resource):
        return False
    names = rule.get("resourceNames")
    return not names or name in names


def _subject_matches(subject: dict[str, Any], user: User, namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == user.name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or namespace
        return user.name == f"system:serviceaccount:{ns}:{name}"
    return False


def authorize(store: Store, user: User, method: str, target: Target, watching: bool) -> None:
    if "system:masters" in user.groups:
        return
    verb = verb_of(method, target, watching)
    resource = target.rt.plural + (f"/{target.subresource}" if target.subresource else "")
    ns = target.namespace or ""
    registry = {(rt.group, rt.kind): rt for rt in store._registry().values()}
    rbac = "rbac.authorization.k8s.io"
    bindings = [(b, "") for b in store.items(registry[(rbac, "ClusterRoleBinding")])]
    if ns:
        bindings += [(b, ns) for b in store.items(registry[(rbac, "RoleBinding")], ns)]
    for binding, bns in bindings:
        if not any(_subject_matches(s, user, bns) for s in binding.get("subjects") or []):
            continue
        ref = binding.get("roleRef") or {}
        role_rt = (
            registry[(rbac, str(ref.get("kind")))]
            if ref.get("kind") in ("Role", "ClusterRole")
            else None
        )
        if role_rt is None:
            continue
        role = store.find(role_rt, bns if ref.get("kind") == "Role" else "", str(ref.get("name")))
        for rule in (role or {}).get("rules") or []:
            if _rule_allows(rule, verb, target.rt.group, resource, target.name):
                return
    where = f' in the namespace "{ns}"' if ns else " at the cluster scope"
    subject = f'{target.rt.gr} "{target.name}"' if target.name else str(target.rt.gr)
    raise StatusError(
        403,
        "Forbidden",
        f'{subject} is forbidden: User "{user.name}" cannot {verb} resource "{resource}" in API '
        f'group "{target.rt.group}"{where}',
        {"name": target.name, "group": target.rt.group, "kind": target.rt.plural},
    )
