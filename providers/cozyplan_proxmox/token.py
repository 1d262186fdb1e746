"""``proxmox_api_token``: an API token and its ACL. The secret exists only once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from cozyplan.provider import ApplyContext, Change, Resource
from cozyplan_proxmox import ownership
from cozyplan_proxmox.cozystack import token_acl_warnings
from cozyplan_proxmox.errors import ApiPermanentError
from cozyplan_proxmox.models import AclEntry, TokenModel
from cozyplan_proxmox.ownership import foreign, strip_mark, with_mark
from cozyplan_proxmox.provider import ProxmoxProvider


def full_id(m: TokenModel) -> str:
    return f"{m.userid}!{m.token_id}"


def _gone(exc: ApiPermanentError) -> bool:
    return "no such token" in exc.pve_message or "no such user" in exc.pve_message


def acl_pairs(entries: Sequence[AclEntry]) -> set[tuple[str, str, bool]]:
    return {(e.path, role, e.propagate) for e in entries for role in e.roles}


class TokenResource(Resource[ProxmoxProvider, TokenModel]):
    type_name: ClassVar[str] = "proxmox_api_token"
    model: ClassVar[type[TokenModel]] = TokenModel
    description: ClassVar[str] = (
        "An API token with its ACL; its secret `value` is known only from its creation."
    )

    def _path(self, m: TokenModel) -> str:
        return f"access/users/{m.userid}/token/{m.token_id}"

    async def _acl(self, m: TokenModel) -> list[AclEntry]:
        """The ACL the token really has: with privilege separation Proxmox VE intersects the
        user's and the token's entries, so only pairs granted to both count."""
        entries = await self.provider.client.call("GET", "access/acl")
        token: set[tuple[str, str, bool]] = set()
        user: set[tuple[str, str, bool]] = set()
        for e in entries or []:
            pair = (str(e["path"]), str(e["roleid"]), bool(int(e.get("propagate", 1))))
            if e.get("type") == "token" and e.get("ugid") == full_id(m):
                token.add(pair)
            elif e.get("type") == "user" and e.get("ugid") == m.userid:
                user.add(pair)
        effective = token & user if m.privsep else user
        grouped: dict[tuple[str, bool], list[str]] = {}
        for path, role, propagate in effective:
            grouped.setdefault((path, propagate), []).append(role)
        return sorted(
            (AclEntry(path=p, roles=sorted(r), propagate=prop) for (p, prop), r in grouped.items()),
            key=lambda a: a.path,
        )

    async def read(self, current: TokenModel) -> TokenModel | None:
        try:
            info: dict[str, Any] = await self.provider.client.call("GET", self._path(current))
        except ApiPermanentError as exc:
            if _gone(exc):
                return None
            raise
        return current.model_copy(
            update={
                "privsep": bool(int(info.get("privsep", 1))),
                "comment": strip_mark(str(info.get("comment", "") or "")),
                "expire": int(info.get("expire", 0) or 0),
                "acl": await self._acl(current),
                "full_token_id": full_id(current),
            }
        )

    async def create(self, planned: TokenModel, ctx: ApplyContext) -> TokenModel:
        return await self.provider.retrying(lambda: self._create(planned, ctx))

    async def _create(self, m: TokenModel, ctx: ApplyContext) -> TokenModel:
        client = self.provider.client
        existing = await self.read(m)
        if existing is not None:
            owner = await self._owner(m)
            if owner is not None and ctx.takeover is None:
                raise ownership.refuse_at_apply(f"API token {full_id(m)}", owner, ctx.address)
            if owner is not None:
                m = m.model_copy(update={"value": None})  # taken over: a fresh secret
        if existing is not None and m.value:
            ctx.progress(f"token {full_id(m)} exists and its secret is known: adopted")
            await self._set_acl(m, existing.acl)
            return (await self.read(m)) or existing
        if existing is not None:
            ctx.progress(f"token {full_id(m)} exists but its secret is unknown: regenerating")
            await client.call("DELETE", self._path(m))
        if m.create_user:
            try:
                await client.call(
                    "POST", "access/users", userid=m.userid, comment="created by cozyplan"
                )
            except ApiPermanentError as exc:
                if "already exists" not in exc.pve_message:
                    raise
        try:
            reply = await client.call(
                "POST", self._path(m), privsep=m.privsep, comment=self._comment(m), expire=m.expire
            )
        except ApiPermanentError as exc:
            if "Token already exists" not in exc.pve_message:
                raise
            await client.call("DELETE", self._path(m))  # created by a dropped earlier attempt
            reply = await client.call(
                "POST", self._path(m), privsep=m.privsep, comment=self._comment(m), expire=m.expire
            )
        secret = str(reply["value"])
        await self._set_acl(m, [])
        found = await self.read(m)
        base = found or m
        return base.model_copy(update={"value": secret, "full_token_id": full_id(m)})

    def _comment(self, m: TokenModel) -> str:
        return with_mark(m.comment, self.provider.ctx.lineage)

    async def _owner(self, m: TokenModel) -> str | None:
        try:
            info = await self.provider.client.call("GET", self._path(m))
        except ApiPermanentError as exc:
            if _gone(exc):
                return None
            raise
        return foreign(self.provider.ctx.lineage, info.get("comment"))

    def plan_warnings(self, planned: Mapping[str, Any]) -> list[str]:
        return token_acl_warnings(planned.get("acl"))

    async def check_create(self, planned: Mapping[str, Any], takeover: str | None) -> list[str]:
        userid, token_id = planned.get("userid"), planned.get("token_id")
        if not isinstance(userid, str) or not isinstance(token_id, str):
            return []
        m = TokenModel(userid=userid, token_id=token_id)
        owner = await self._owner(m)
        what = f"API token {full_id(m)}"
        return ownership.check(what, owner, takeover, "regenerates the secret of")

    async def _set_acl(self, m: TokenModel, have: Sequence[AclEntry]) -> None:
        """Grant each entry to the user **and** the token (privilege separation intersects
        them); revoke from both what the spec no longer lists."""
        want = acl_pairs(m.acl)
        now = acl_pairs(have)
        client = self.provider.client
        for path, role, propagate in sorted(now - want):
            await client.call(
                "PUT",
                "access/acl",
                path=path,
                roles=role,
                propagate=propagate,
                delete=True,
                users=m.userid,
                tokens=full_id(m),
            )
        for path, role, propagate in sorted(want - now):
            await client.call(
                "PUT",
                "access/acl",
                path=path,
                roles=role,
                propagate=propagate,
                users=m.userid,
                tokens=full_id(m),
            )

    async def update(
        self, prior: TokenModel, planned: TokenModel, changes: Sequence[Change], ctx: ApplyContext
    ) -> TokenModel:
        async def run() -> TokenModel:
            await self.provider.client.call(
                "PUT",
                self._path(planned),
                privsep=planned.privsep,
                comment=self._comment(planned),
                expire=planned.expire,
            )
            await self._set_acl(planned, await self._acl(planned))
            found = await self.read(planned)
            result = found or planned
            return result.model_copy(update={"value": prior.value})

        return await self.provider.retrying(run)

    async def delete(self, prior: TokenModel, ctx: ApplyContext) -> None:
        async def run() -> None:
            try:
                await self.provider.client.call("DELETE", self._path(prior))
            except ApiPermanentError as exc:
                if not _gone(exc):
                    raise

        await self.provider.retrying(run)
