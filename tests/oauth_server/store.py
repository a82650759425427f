"""The server's whole state: plain objects behind one lock.

Every handler works on the state while holding :attr:`Store.lock`, and the
token endpoint holds it for the whole of Authlib's processing. The server is
therefore linearizable: two concurrent refreshes with one rotating refresh
token give exactly one success and one ``invalid_grant``, as on a real
server with a transactional database. Sleeps (the ``delay`` fault) happen
outside the lock.

``reset()`` starts a new *generation*: it wakes every request sleeping in a
fault, and such stale requests then answer without touching the new state,
so one test's slow request cannot leak into the next test's counters.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any, Literal

import attrs
from attrs import define

from .config import (
    ClientConfig,
    ConfigError,
    Endpoint,
    Fault,
    ServerConfig,
    Settings,
    UserConfig,
)
from .models import AccessToken, AuthorizationCode, Client, RefreshToken, User
from .records import ApiRequestRecord, TokenRequestRecord

__all__ = ["Arrival", "Store"]

logger = logging.getLogger(__name__)

NO_GRANT_TYPE = "<none>"


@define
class _ArmedFault:
    fault: Fault
    remaining: int | None
    endpoint: Endpoint
    grant_type: str | None

    def matches(self, endpoint: str, grant_type: str | None) -> bool:
        return self.endpoint == endpoint and self.grant_type in (None, grant_type)


@define(frozen=True)
class Arrival:
    """A request's ticket: where its record is and which fault it drew."""

    endpoint: Literal["token", "api"]
    index: int
    generation: int
    fault: Fault | None


class Store:
    """Clients, users, codes, tokens, faults and records of one server."""

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.lock = threading.RLock()
        self._initial = config or ServerConfig()
        self._generation = 0
        self._wake = threading.Event()
        self.reset()

    # -- lifecycle ---------------------------------------------------------

    def reset(self, config: ServerConfig | None = None) -> None:
        """Forget everything and start again from the initial config.

        Args:
            config: A new initial config to keep from now on.
        """
        with self.lock:
            if config is not None:
                self._initial = config
            self._generation += 1
            self._wake.set()
            self._wake = threading.Event()

            self.settings: Settings = self._initial.settings
            self.clients: dict[str, Client] = {
                c.client_id: Client(c) for c in self._initial.clients
            }
            self.users: dict[str, User] = {
                u.username: User(u) for u in self._initial.users
            }
            self.codes: dict[str, AuthorizationCode] = {}
            self.access_tokens: dict[str, AccessToken] = {}
            self.refresh_tokens: dict[str, RefreshToken] = {}
            self.used_jtis: set[tuple[str, str]] = set()
            self.token_records: list[TokenRequestRecord] = []
            self.api_records: list[ApiRequestRecord] = []
            self.token_counts: Counter[str] = Counter()
            self._faults: list[_ArmedFault] = []

    def wake_sleepers(self) -> None:
        """Release every request sleeping in a ``delay`` fault."""
        with self.lock:
            self._wake.set()

    def is_current(self, generation: int) -> bool:
        """Tell whether no reset happened since ``generation``."""
        return generation == self._generation

    def sleep(self, arrival: Arrival, seconds: float) -> bool:
        """Sleep for a fault; return False when a reset cut the sleep short."""
        with self.lock:
            if not self.is_current(arrival.generation):
                return False
            wake = self._wake

        woken = wake.wait(seconds)
        return not woken

    # -- configuration -----------------------------------------------------

    def configure(self, **changes: Any) -> Settings:
        """Change some settings; the rest stay as they are.

        Raises:
            ConfigError: A name is not a setting or a value is invalid.
        """
        unknown = sorted(set(changes) - {a.name for a in attrs.fields(Settings)})
        if unknown:
            valid = ", ".join(a.name for a in attrs.fields(Settings))
            msg = f"unknown settings {unknown}; valid settings are: {valid}"
            raise ConfigError(msg)

        with self.lock:
            try:
                self.settings = attrs.evolve(self.settings, **changes)
            except (TypeError, ValueError) as err:
                # attrs validators put the readable message first.
                reason = err.args[0] if err.args else err
                msg = f"invalid settings {changes!r}: {reason}"
                raise ConfigError(msg) from err
            return self.settings

    def add_client(self, config: ClientConfig) -> ClientConfig:
        """Register a client, replacing one with the same id."""
        with self.lock:
            self.clients[config.client_id] = Client(config)
        return config

    def remove_client(self, client_id: str) -> None:
        """Unregister a client; its tokens stop working too."""
        with self.lock:
            self.clients.pop(client_id, None)
            for token in self.access_tokens.values():
                if token.client.get_client_id() == client_id:
                    token.revoked = True
            for refresh in self.refresh_tokens.values():
                if refresh.client.get_client_id() == client_id:
                    refresh.revoked = True

    def add_user(self, config: UserConfig) -> UserConfig:
        """Add a resource owner, replacing one with the same username."""
        with self.lock:
            self.users[config.username] = User(config)
        return config

    def inject(
        self,
        fault: Fault,
        *,
        times: int | None = 1,
        endpoint: Endpoint = "token",
        grant_type: str | None = None,
    ) -> None:
        """Arm a fault for the next matching requests.

        Args:
            fault: What to answer.
            times: How many requests get the fault; None: all of them.
            endpoint: ``token`` or ``api``.
            grant_type: Only token requests with this grant type.
        """
        if times is not None and times < 1:
            msg = f"times must be >= 1 or None, got {times!r}"
            raise ConfigError(msg)
        if endpoint not in ("token", "api"):
            msg = f"endpoint must be 'token' or 'api', got {endpoint!r}"
            raise ConfigError(msg)

        with self.lock:
            self._faults.append(_ArmedFault(fault, times, endpoint, grant_type))

    def clear_faults(self) -> None:
        """Disarm every fault."""
        with self.lock:
            self._faults.clear()

    def _draw_fault(self, endpoint: str, grant_type: str | None) -> Fault | None:
        for armed in self._faults:
            if not armed.matches(endpoint, grant_type):
                continue
            if armed.remaining is not None:
                armed.remaining -= 1
                if armed.remaining == 0:
                    self._faults.remove(armed)
            return armed.fault
        return None

    # -- records -----------------------------------------------------------

    def arrive_token(self, record: TokenRequestRecord) -> Arrival:
        """Count and record a token request; draw its fault."""
        with self.lock:
            index = len(self.token_records)
            record = attrs.evolve(record, index=index)
            self.token_records.append(record)
            self.token_counts[record.grant_type or NO_GRANT_TYPE] += 1
            fault = self._draw_fault("token", record.grant_type)
            return Arrival("token", index, self._generation, fault)

    def arrive_api(self, record: ApiRequestRecord) -> Arrival:
        """Record a protected resource request; draw its fault."""
        with self.lock:
            index = len(self.api_records)
            self.api_records.append(attrs.evolve(record, index=index))
            fault = self._draw_fault("api", None)
            return Arrival("api", index, self._generation, fault)

    def finish(self, arrival: Arrival, **outcome: Any) -> None:
        """Complete a request's record, unless a reset made it stale."""
        with self.lock:
            if not self.is_current(arrival.generation):
                return
            records: list[Any] = (
                self.token_records if arrival.endpoint == "token" else self.api_records
            )
            records[arrival.index] = attrs.evolve(records[arrival.index], **outcome)

    # -- storage Authlib calls into ------------------------------------------

    def query_client(self, client_id: str) -> Client | None:
        """Find a client by id."""
        with self.lock:
            return self.clients.get(client_id)

    def save_code(self, code: AuthorizationCode) -> None:
        """Keep an issued authorization code."""
        with self.lock:
            self.codes[code.code] = code

    def take_code(self, code: str, client: Client) -> AuthorizationCode | None:
        """Find a live code issued to ``client``."""
        with self.lock:
            found = self.codes.get(code)
            if found is None or found.client_id != client.get_client_id():
                return None
            if found.is_expired():
                del self.codes[code]
                return None
            return found

    def delete_code(self, code: AuthorizationCode) -> None:
        """Forget a redeemed code, so it cannot be used twice."""
        with self.lock:
            self.codes.pop(code.code, None)

    def save_token(
        self,
        token: Mapping[str, Any],
        *,
        client: Client,
        user: User | None,
        grant_type: str,
        used_refresh_token: RefreshToken | None,
        extras: dict[str, str],
    ) -> None:
        """Keep a freshly issued token (and its refresh token, if any)."""
        now = time.time()
        lifetime = self.settings.access_token_lifetime
        scope = str(token.get("scope") or "")

        with self.lock:
            refresh_value = token.get("refresh_token")
            if refresh_value:
                self.refresh_tokens[refresh_value] = RefreshToken(
                    refresh_value, client, user, scope, now
                )
            elif used_refresh_token is not None:
                # Rotation is off: the new access token hangs off the old one.
                refresh_value = used_refresh_token.value

            access = AccessToken(
                value=token["access_token"],
                client=client,
                user=user,
                scope=scope,
                grant_type=grant_type,
                issued_at=now,
                expires_at=None if lifetime is None else now + lifetime,
                refresh_token=refresh_value,
                extras=extras,
            )
            self.access_tokens[access.value] = access

    def find_refresh_token(self, value: str) -> RefreshToken | None:
        """Find a refresh token that is still valid."""
        with self.lock:
            found = self.refresh_tokens.get(value)
            return found if found is not None and not found.revoked else None

    def find_access_token(self, value: str) -> AccessToken | None:
        """Find an access token, valid or not."""
        with self.lock:
            return self.access_tokens.get(value)

    def revoke_after_refresh(
        self,
        refresh: RefreshToken,
        *,
        revoke_refresh: bool,
        revoke_access: bool,
        keep: str | None,
    ) -> None:
        """Retire what a refresh replaced.

        Args:
            refresh: The refresh token just used.
            revoke_refresh: Revoke it (rotation is on).
            revoke_access: Revoke the access tokens issued with it.
            keep: The access token this refresh issued; never revoked.
        """
        with self.lock:
            if revoke_refresh:
                refresh.revoked = True
            if not revoke_access:
                return
            for token in self.access_tokens.values():
                if token.refresh_token == refresh.value and token.value != keep:
                    token.revoked = True

    def use_jti(self, client_id: str, jti: str) -> bool:
        """Record a client assertion's ``jti``; False if seen before."""
        with self.lock:
            key = (client_id, jti)
            if key in self.used_jtis:
                return False
            self.used_jtis.add(key)
            return True

    # -- test helpers ------------------------------------------------------

    def expire_access_tokens(self, value: str | None = None) -> int:
        """Make one access token (or all of them) expired; return how many."""
        with self.lock:
            tokens = (
                list(self.access_tokens.values())
                if value is None
                else [t for t in [self.access_tokens.get(value)] if t]
            )
            past = time.time() - 1
            for token in tokens:
                token.expires_at = past
            return len(tokens)

    def revoke(self, value: str) -> bool:
        """Revoke an access or refresh token by value; False if unknown."""
        with self.lock:
            access = self.access_tokens.get(value)
            if access is not None:
                access.revoked = True
                return True

            refresh = self.refresh_tokens.get(value)
            if refresh is not None:
                refresh.revoked = True
                return True
            return False
