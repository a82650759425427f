"""Build the registry of auth types from every installed plugin.

Plugins come from the entry-point group ``authplug``; the built-in types
arrive the same way, from this package's own entry points. Building is done
by :func:`build_registry`, never at import time, and :func:`registry`
keeps one default registry per process.

A plugin that fails to import, whose hook raises, or that returns something
other than :class:`~authplug.AuthType` records is logged and skipped, so
every other type keeps working; ``strict=True`` makes that fatal. Two
plugins that claim one name are always an error: picking either silently
would make the outcome depend on install order.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs
import pluggy
from attrs import frozen

from authplug import hookspecs
from authplug.discovery import FoundEntryPoint, find_entry_points
from authplug.errors import (
    ConfigError,
    FieldError,
    PluginClash,
    PluginError,
    UnknownAuthType,
)
from authplug.flow import AuthFlow
from authplug.records import AuthType, Credentials
from authplug.stores.store_type import StoreType

__all__ = [
    "BLOCK_ENV",
    "ENTRY_POINT_GROUP",
    "PluginProblem",
    "Registry",
    "build_registry",
    "registry",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "authplug"
BLOCK_ENV = "AUTHPLUG_BLOCK"


@frozen
class PluginProblem:
    """A plugin that was skipped, and why.

    Args:
        plugin: The plugin's name.
        distribution: Its distribution and version, if known.
        message: What went wrong.
    """

    plugin: str
    distribution: str | None
    message: str

    def __str__(self) -> str:
        origin = f" from {self.distribution}" if self.distribution else ""
        return f"plugin {self.plugin!r}{origin}: {self.message}"


@frozen
class _Origin:
    distribution: str | None = None
    version: str | None = None

    def describe(self, plugin: str | None) -> str:
        if self.distribution is None:
            return f"plugin {plugin!r}"
        return f"plugin {plugin!r} ({self.distribution} {self.version})"


class Registry:
    """Every registered auth type, indexed by name and alias.

    Args:
        types: The checked auth type records.
        problems: The plugins that were skipped while building.
        plugin_manager: The pluggy manager the types came from, for other
            hooks.
        store_types: The checked token store types, each selected by the
            scheme of a store URL (see :mod:`authplug.stores.urls`).
    """

    def __init__(
        self,
        types: Iterable[AuthType],
        *,
        problems: Iterable[PluginProblem] = (),
        plugin_manager: pluggy.PluginManager | None = None,
        store_types: Iterable[StoreType] = (),
    ) -> None:
        self._types: dict[str, AuthType] = {}
        self._index: dict[str, AuthType] = {}
        self.problems = tuple(problems)
        self.plugin_manager = plugin_manager
        self.store_types: dict[str, StoreType] = {}

        for store_type in store_types:
            claimed = self.store_types.get(store_type.scheme)
            if claimed is not None and claimed is not store_type:
                raise _store_clash(claimed, store_type)
            self.store_types[store_type.scheme] = store_type

        for auth_type in types:
            for name in auth_type.names:
                existing = self._index.get(name)
                if existing is auth_type:
                    continue
                if existing is not None:
                    raise _clash(name, existing, auth_type)
                self._index[name] = auth_type
            self._types[auth_type.name] = auth_type

    def get(self, name: str) -> AuthType:
        """Return the auth type called ``name`` (a name or an alias).

        Raises:
            UnknownAuthType: No plugin provides it; the error lists the
                known names and the closest matches.
        """
        # The hot path is one dict lookup; a miss, or a name that cannot be
        # a key at all, takes the slow path that explains it.
        try:
            return self._index[name]
        except (KeyError, TypeError):
            return self._resolve_miss(name)

    def names(self) -> list[str]:
        """Return the canonical name of every type, sorted."""
        return sorted(self._types)

    def types(self) -> list[AuthType]:
        """Return every type, sorted by name."""
        return [self._types[name] for name in self.names()]

    def load(
        self,
        data: Mapping[str, Any],
        *,
        type: str | None = None,
        source: str | None = None,
    ) -> Credentials[Any, Any]:
        """Validate ``data`` as credentials of the type it names.

        Args:
            data: A mapping with ``type``, ``user``, ``app`` and optionally
                ``auth_id``.
            type: The type to use when ``data`` names none, or to insist on.
            source: Where the data came from, named in errors.

        Raises:
            ConfigError: With every bad field and its path.
        """
        declared = data.get("type") if isinstance(data, Mapping) else None
        chosen = type or declared
        if chosen is None:
            known = ", ".join(self.names())
            error = FieldError("type", f"is required; choose one of: {known}")
            raise ConfigError([error], source=source)
        if not isinstance(chosen, str):
            error = FieldError("type", "must be the name of an auth type")
            raise ConfigError([error], source=source)

        try:
            auth_type = self.get(chosen)
        except UnknownAuthType as exc:
            error = FieldError("type", str(exc))
            raise ConfigError([error], source=source) from None
        return auth_type.load(data, source=source)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._index

    def __iter__(self) -> Iterator[AuthType]:
        return iter(self.types())

    def __len__(self) -> int:
        return len(self._types)

    def __repr__(self) -> str:
        return f"Registry({', '.join(self.names())})"

    def _resolve_miss(self, name: object) -> AuthType:
        if isinstance(name, str):
            # Tags such as "Oauth2" are common in hand-written files.
            for candidate in (name.lower(), name.upper()):
                found = self._index.get(candidate)
                if found is not None:
                    return found

        import difflib  # only a miss needs it; start-up should not pay for it

        known = sorted(self._index)
        text = name if isinstance(name, str) else repr(name)
        close = difflib.get_close_matches(text, known, n=3, cutoff=0.5)
        raise UnknownAuthType(text, known, close) from None


def _clash(name: str, first: AuthType, second: AuthType) -> PluginClash:
    def describe(record: AuthType) -> str:
        origin = _Origin(record.distribution, record.version)
        return origin.describe(record.plugin)

    if first.plugin == second.plugin:
        remedy = (
            f"Each type of plugin {second.plugin!r} needs a name of its own; "
            "fix the plugin or report it to its authors."
        )
    else:
        remedy = (
            "Uninstall one of them, or block one by its plugin name with "
            f"{BLOCK_ENV}={first.plugin} or {BLOCK_ENV}={second.plugin}."
        )
    return PluginClash(
        name,
        describe(first),
        describe(second),
        plugin=second.plugin or "",
        remedy=remedy,
    )


def _store_clash(first: StoreType, second: StoreType) -> PluginClash:
    def describe(record: StoreType) -> str:
        origin = _Origin(record.distribution, record.version)
        return origin.describe(record.plugin)

    return PluginClash(
        second.scheme,
        describe(first),
        describe(second),
        plugin=second.plugin or "",
        what="token store scheme",
        remedy=(
            "Uninstall one of them, or block one by its plugin name with "
            f"{BLOCK_ENV}={first.plugin} or {BLOCK_ENV}={second.plugin}."
        ),
    )


def _plugin_name_clash(name: str, first: _Origin, second: _Origin) -> PluginClash:
    if first.distribution and second.distribution:
        choices = f"{BLOCK_ENV}={first.distribution} or {second.distribution}"
        remedy = f"Uninstall one of them, or block one by distribution with {choices}."
    else:
        remedy = "Pass the plugin given in code under a name of its own."
    return PluginClash(
        name,
        first.describe(name),
        second.describe(name),
        plugin=name,
        what="plugin name",
        remedy=remedy,
    )


def canonical_name(name: str) -> str:
    """Return a distribution name normalized as pip does (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _blocked_from_env() -> set[str]:
    raw = os.environ.get(BLOCK_ENV, "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def _origin(entry_point: FoundEntryPoint) -> _Origin:
    return _Origin(entry_point.distribution, entry_point.version)


class _Builder:
    """Collect plugins and their records, keeping the problems found."""

    def __init__(self, *, strict: bool, blocked: set[str]) -> None:
        self.strict = strict
        self.blocked = blocked
        self.blocked_distributions = {canonical_name(name) for name in blocked}
        self.problems: list[PluginProblem] = []
        self.origins: dict[str, _Origin] = {}
        self.manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.manager.add_hookspecs(hookspecs)
        for name in blocked:
            self.manager.set_blocked(name)

    def skip(
        self,
        plugin: str,
        origin: _Origin,
        message: str,
        cause: BaseException | None = None,
    ) -> None:
        where = (
            f"{origin.distribution} {origin.version}" if origin.distribution else None
        )
        problem = PluginProblem(plugin, where, message)
        if self.strict:
            raise PluginError(str(problem), plugin=plugin) from cause
        log.warning("skipping %s", problem)
        self.problems.append(problem)

    def is_blocked(self, name: str, origin: _Origin) -> bool:
        if name in self.blocked:
            return True
        dist = origin.distribution
        return dist is not None and canonical_name(dist) in self.blocked_distributions

    def add_entry_points(self) -> None:
        found = find_entry_points(ENTRY_POINT_GROUP)
        for entry_point in sorted(found, key=lambda ep: ep.name):
            origin = _origin(entry_point)
            if self.is_blocked(entry_point.name, origin):
                log.info("plugin %r is blocked by %s", entry_point.name, BLOCK_ENV)
                continue

            if entry_point.name in self.origins:
                first = self.origins[entry_point.name]
                raise _plugin_name_clash(entry_point.name, first, origin)

            try:
                plugin = entry_point.load()
            except Exception as exc:
                message = f"failed to import: {exc!r}"
                self.skip(entry_point.name, origin, message, exc)
                continue
            self.add(plugin, entry_point.name, origin)

    def add(self, plugin: object, name: str, origin: _Origin) -> None:
        if name in self.origins:
            raise _plugin_name_clash(name, self.origins[name], origin)

        try:
            self.manager.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            self.skip(name, origin, f"could not be registered: {exc}", exc)
            return
        self.origins[name] = origin

        try:
            self.manager.check_pending()
        except pluggy.PluginValidationError as exc:
            self.manager.unregister(name=name)
            del self.origins[name]
            self.skip(name, origin, str(exc), exc)

    def collect(self) -> list[AuthType]:
        records: list[AuthType] = []
        for impl in self.manager.hook.authplug_auth_types.get_hookimpls():
            name = impl.plugin_name
            origin = self.origins.get(name, _Origin())
            records.extend(self._records_of(impl, name, origin))
        return records

    def _records_of(
        self, impl: pluggy.HookImpl, name: str, origin: _Origin
    ) -> list[AuthType]:
        try:
            returned: Any = impl.function()
            if isinstance(returned, (str, bytes, Mapping, AuthType)):
                kind = type(returned).__name__
                message = f"authplug_auth_types returned one {kind}"
                self.skip(name, origin, f"{message}; return a list of AuthType records")
                return []
            items: list[object] = [] if returned is None else list(returned)
        except TypeError as exc:
            kind = type(returned).__name__
            message = f"authplug_auth_types returned {kind}, which is not iterable"
            self.skip(name, origin, message, exc)
            return []
        except Exception as exc:
            self.skip(name, origin, f"authplug_auth_types raised {exc!r}", exc)
            return []

        bad = [item for item in items if not isinstance(item, AuthType)]
        if bad:
            kinds = ", ".join(sorted({type(item).__name__ for item in bad}))
            self.skip(
                name,
                origin,
                f"authplug_auth_types returned {kinds}, not AuthType records",
            )
            return []

        records = [item for item in items if isinstance(item, AuthType)]
        bad_flows = [r.name for r in records if not _is_flow(r.flow_spec)]
        if bad_flows:
            listed = ", ".join(repr(n) for n in bad_flows)
            self.skip(
                name,
                origin,
                f"the flow of {listed} is not an authplug.AuthFlow subclass",
            )
            return []

        return [
            attrs.evolve(
                record,
                plugin=name,
                distribution=origin.distribution,
                version=origin.version,
            )
            for record in records
        ]

    def collect_store_types(self) -> list[StoreType]:
        records: list[StoreType] = []
        for impl in self.manager.hook.authplug_token_stores.get_hookimpls():
            name = impl.plugin_name
            origin = self.origins.get(name, _Origin())
            records.extend(self._store_types_of(impl, name, origin))
        return records

    def _store_types_of(
        self, impl: pluggy.HookImpl, name: str, origin: _Origin
    ) -> list[StoreType]:
        hook = "authplug_token_stores"
        try:
            returned: Any = impl.function()
            if isinstance(returned, (str, bytes, Mapping, StoreType)):
                kind = type(returned).__name__
                message = f"{hook} returned one {kind}"
                self.skip(
                    name, origin, f"{message}; return a list of StoreType records"
                )
                return []
            items: list[object] = [] if returned is None else list(returned)
        except TypeError as exc:
            kind = type(returned).__name__
            self.skip(
                name, origin, f"{hook} returned {kind}, which is not iterable", exc
            )
            return []
        except Exception as exc:
            self.skip(name, origin, f"{hook} raised {exc!r}", exc)
            return []

        bad = [item for item in items if not isinstance(item, StoreType)]
        if bad:
            kinds = ", ".join(sorted({type(item).__name__ for item in bad}))
            self.skip(name, origin, f"{hook} returned {kinds}, not StoreType records")
            return []

        return [
            attrs.evolve(
                item,
                plugin=name,
                distribution=origin.distribution,
                version=origin.version,
            )
            for item in items
            if isinstance(item, StoreType)
        ]


def build_registry(
    *,
    strict: bool = False,
    block: Iterable[str] | None = None,
    plugins: Mapping[str, object] | None = None,
    entry_points: bool = True,
) -> Registry:
    """Build a registry from installed plugins.

    Args:
        strict: Raise on a broken plugin instead of logging and skipping it.
        block: Plugin or distribution names to leave out; by default those
            listed, comma separated, in the ``AUTHPLUG_BLOCK`` variable.
        plugins: Extra plugin objects to register, by name, as though they
            came from entry points (handy in tests and applications).
        entry_points: Load the ``authplug`` entry-point group.

    Raises:
        PluginClash: Two plugins claim the same name or alias, or the
            same token store scheme.
        PluginError: In strict mode, a plugin that could not be used.
    """
    blocked = set(block) if block is not None else _blocked_from_env()
    builder = _Builder(strict=strict, blocked=blocked)

    if entry_points:
        builder.add_entry_points()
    for name, plugin in (plugins or {}).items():
        if name in blocked:
            log.info("plugin %r is blocked", name)
            continue
        builder.add(plugin, name, _Origin())

    records = builder.collect()
    store_types = builder.collect_store_types()
    built = Registry(
        records,
        problems=builder.problems,
        plugin_manager=builder.manager,
        store_types=store_types,
    )
    _warn_orphans(built)
    return built


def _is_flow(flow: object) -> bool:
    # A flow named by path is imported and checked on first use, so that
    # building the registry imports no flow and nothing a flow needs.
    if flow is None or isinstance(flow, str):
        return True
    return isinstance(flow, type) and issubclass(flow, AuthFlow)


def _warn_orphans(built: Registry) -> None:
    for auth_type in built.types():
        if auth_type.parent is not None and auth_type.parent not in built:
            log.warning(
                "auth type %r derives from %r, which is not registered",
                auth_type.name,
                auth_type.parent,
            )


_default: Registry | None = None
_default_lock = threading.Lock()


def registry() -> Registry:
    """Return the process-wide registry, building it on first use.

    Safe to call from many threads: exactly one builds it.
    """
    built = _default
    if built is not None:
        return built

    with _default_lock:
        if _default is None:
            _set_default(build_registry())
        assert _default is not None
        return _default


def _set_default(value: Registry | None) -> None:
    global _default
    _default = value


def reset_registry() -> None:
    """Forget the default registry, so the next call builds it afresh."""
    _set_default(None)
