"""Who is calling: API keys (hashed in the state store) resolved to a tenant, groups and a role."""

from __future__ import annotations

from dataclasses import dataclass

from ragline.errors import RaglineError
from ragline.service_state import ApiKey, StateStore
from ragline.types import DEFAULT_TENANT, Principal


class AuthError(RaglineError):
    """No key, an unknown or revoked key (401), or a role that may not do this (403)."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller. ``principal`` is None when auth is off (a single local user)."""

    key_id: str
    tenant: str
    groups: tuple[str, ...]
    role: str
    clearance: int
    principal: Principal | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def of_key(cls, key: ApiKey) -> Caller:
        p = Principal(tenant=key.tenant, groups=key.groups, clearance=key.clearance)
        return cls(key.id, key.tenant, key.groups, key.role, key.clearance, p)


ANONYMOUS = Caller("anonymous", DEFAULT_TENANT, (), "admin", 100, None)
_HOW = (
    "send it as 'Authorization: Bearer <key>' (or 'X-API-Key: <key>'); an admin creates keys with "
    "`ragline keys create --tenant T --groups a,b --role reader`"
)


def authenticate(state: StateStore, authorization: str | None, x_api_key: str | None) -> Caller:
    """Resolve the request's key; raises :class:`AuthError` (401) when it is missing or wrong."""
    secret = x_api_key
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthError(f"the Authorization header must be 'Bearer <key>'; {_HOW}")
        secret = value.strip()
    if not secret:
        raise AuthError(f"this endpoint needs an API key; {_HOW}")
    key = state.authenticate(secret)
    if key is None:
        raise AuthError(f"the API key is unknown or revoked; {_HOW}")
    return Caller.of_key(key)


def require_admin(caller: Caller) -> None:
    if not caller.is_admin:
        raise AuthError(
            f"key {caller.key_id} has role {caller.role!r}; "
            f"this needs an admin key of tenant {caller.tenant!r}",
            status=403,
        )
