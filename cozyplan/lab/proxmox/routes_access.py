"""``/access``: users, API tokens and ACLs."""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

from cozyplan.lab.proxmox.call import Call, Route
from cozyplan.lab.proxmox.core import Pve
from cozyplan.lab.proxmox.errors import ApiError, param_error
from cozyplan.lab.proxmox.perms import check_perm_modify
from cozyplan.lab.proxmox.store import hash_secret
from cozyplan.upstream.pve_roles import ROLES

_USERID_RE = re.compile(r"^[^\s:/!]+@[A-Za-z][A-Za-z0-9.\-_]+$")
_TOKENID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9.\-_]+$")


def _token_info(token: dict[str, Any]) -> dict[str, Any]:
    return {
        "privsep": token["privsep"],
        "comment": token.get("comment", ""),
        "expire": token.get("expire", 0),
    }


async def list_users(pve: Pve, call: Call) -> Any:
    return [
        {
            "userid": u,
            "enable": info.get("enable", 1),
            "comment": info.get("comment", ""),
            "tokens": [{"tokenid": t, **_token_info(tok)} for t, tok in info["tokens"].items()],
        }
        for u, info in pve.store.users().items()
    ]


async def create_user(pve: Pve, call: Call) -> Any:
    userid = call.required("userid")
    if not _USERID_RE.match(userid):
        raise param_error(userid=f"value '{userid}' does not look like a valid user name")
    if userid in pve.store.users():
        raise ApiError(500, f"create user failed: user '{userid}' already exists")
    pve.store.users()[userid] = {
        "enable": int(call.flag("enable", True)),
        "comment": call.params.get("comment", ""),
        "tokens": {},
    }
    pve.store.save()
    return None


async def get_user(pve: Pve, call: Call) -> Any:
    user = pve.store.user(call.path["userid"])
    return {
        "enable": user.get("enable", 1),
        "comment": user.get("comment", ""),
        "tokens": {t: _token_info(tok) for t, tok in user["tokens"].items()},
    }


async def delete_user(pve: Pve, call: Call) -> Any:
    userid = call.path["userid"]
    pve.store.user(userid)
    pve.store.users().pop(userid)
    pve.store.data["acl"] = [
        e for e in pve.store.acl() if e["ugid"] != userid and not e["ugid"].startswith(userid + "!")
    ]
    pve.store.save()
    return None


async def list_tokens(pve: Pve, call: Call) -> Any:
    user = pve.store.user(call.path["userid"])
    return [{"tokenid": t, **_token_info(tok)} for t, tok in user["tokens"].items()]


def _token(pve: Pve, call: Call) -> tuple[dict[str, Any], dict[str, Any] | None]:
    userid, tokenid = call.path["userid"], call.path["tokenid"]
    user = pve.store.user(userid)
    return user, user["tokens"].get(tokenid)


def _no_token(call: Call) -> ApiError:
    return ApiError(500, f"no such token '{call.path['tokenid']}' for user '{call.path['userid']}'")


async def get_token(pve: Pve, call: Call) -> Any:
    _, token = _token(pve, call)
    if token is None:
        raise _no_token(call)
    return _token_info(token)


async def create_token(pve: Pve, call: Call) -> Any:
    user, token = _token(pve, call)
    tokenid = call.path["tokenid"]
    if not _TOKENID_RE.match(tokenid):
        raise param_error(tokenid="invalid format - value does not look like a valid token ID")
    if token is not None:
        raise ApiError(500, "Token already exists.")
    value = str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))
    token = {
        "privsep": int(call.flag("privsep", True)),
        "comment": call.params.get("comment", ""),
        "expire": int(call.params.get("expire", "0") or 0),
        "hash": hash_secret(value),
    }
    user["tokens"][tokenid] = token
    pve.store.save()
    return {
        "full-tokenid": f"{call.path['userid']}!{tokenid}",
        "info": _token_info(token),
        "value": value,
    }


async def update_token(pve: Pve, call: Call) -> Any:
    _, token = _token(pve, call)
    if token is None:
        raise _no_token(call)
    if "privsep" in call.params:
        token["privsep"] = int(call.flag("privsep"))
    if "comment" in call.params:
        token["comment"] = call.params["comment"]
    if "expire" in call.params:
        token["expire"] = int(call.params["expire"] or 0)
    pve.store.save()
    return _token_info(token)


async def delete_token(pve: Pve, call: Call) -> Any:
    user, token = _token(pve, call)
    if token is None:
        raise _no_token(call)
    tokenid = call.path["tokenid"]
    user["tokens"].pop(tokenid)
    full = f"{call.path['userid']}!{tokenid}"
    pve.store.data["acl"] = [e for e in pve.store.acl() if e["ugid"] != full]
    pve.store.save()
    return None


async def get_acl(pve: Pve, call: Call) -> Any:
    return [dict(e) for e in pve.store.acl()]


async def put_acl(pve: Pve, call: Call) -> Any:
    path = call.required("path")
    roles = [r for r in re.split(r"[,;\s]+", call.required("roles")) if r]
    check_perm_modify(pve.store, call.user, path)
    for role in roles:
        if role not in ROLES:
            raise ApiError(500, f"role '{role}' does not exist")
    if not path.startswith("/"):
        raise param_error(path=f"invalid ACL path '{path}'")
    propagate = int(call.flag("propagate", True))
    delete = call.flag("delete")
    subjects: list[tuple[str, str]] = []
    for kind, key in (("user", "users"), ("group", "groups"), ("token", "tokens")):
        for ugid in [s for s in re.split(r"[,;\s]+", call.params.get(key, "")) if s]:
            if kind == "token":
                userid, _, tokenid = ugid.partition("!")
                if tokenid not in pve.store.user(userid)["tokens"]:
                    raise ApiError(500, f"no such token '{tokenid}' for user '{userid}'")
            elif kind == "user":
                pve.store.user(ugid)
            subjects.append((kind, ugid))
    if not subjects:
        raise ApiError(500, "either 'users', 'groups' or 'tokens' is required")
    acl = pve.store.acl()
    for kind, ugid in subjects:
        for role in roles:
            acl[:] = [
                e
                for e in acl
                if not (
                    e["path"] == path
                    and e["ugid"] == ugid
                    and e["type"] == kind
                    and e["roleid"] == role
                )
            ]
            if not delete:
                acl.append(
                    {
                        "path": path,
                        "type": kind,
                        "ugid": ugid,
                        "roleid": role,
                        "propagate": propagate,
                    }
                )
    pve.store.save()
    return None


ROUTES: list[Route] = [
    ("GET", "/access/users", list_users),
    ("POST", "/access/users", create_user),
    ("GET", "/access/users/{userid}", get_user),
    ("DELETE", "/access/users/{userid}", delete_user),
    ("GET", "/access/users/{userid}/token", list_tokens),
    ("GET", "/access/users/{userid}/token/{tokenid}", get_token),
    ("POST", "/access/users/{userid}/token/{tokenid}", create_token),
    ("PUT", "/access/users/{userid}/token/{tokenid}", update_token),
    ("DELETE", "/access/users/{userid}/token/{tokenid}", delete_token),
    ("GET", "/access/acl", get_acl),
    ("PUT", "/access/acl", put_acl),
]
