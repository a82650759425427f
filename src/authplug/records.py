"""The records that plugins return, and the credentials built from them.

An :class:`AuthType` describes one kind of authentication: its name, the
attrs models for what the app sets once (``app``) and what each user has
(``user``), and the flow class that puts those credentials to work. Loading
a mapping through an auth type gives validated :class:`Credentials`.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType, MemberDescriptorType
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

import attrs
from attrs import field, frozen

from authplug.convert import check_instance, field_values, structure, unstructure
from authplug.errors import ConfigError, FieldError, PluginError
from authplug.fields import type_name
from authplug.loaders import model_loader
from authplug.suggest import closest

if TYPE_CHECKING:
    from authplug.flow import AuthFlow

__all__ = ["AuthType", "Credentials", "NoFields"]

UserT = TypeVar("UserT")
AppT = TypeVar("AppT")

_NAME = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
_DOCUMENT_KEYS = ("type", "auth_id", "user", "app")
_DOCUMENT_KEY_SET = frozenset(_DOCUMENT_KEYS)


@frozen(kw_only=True)
class NoFields:
    """The model of a side that takes nothing (the app of ``basic``, say)."""


def _check_name(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(
            f"auth type name must be lowercase words joined by dots, such as "
            f"'oauth2.client_credentials', got {value!r}"
        )


def _check_aliases(
    _: object, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    for alias in value:
        if not isinstance(alias, str) or not _ALIAS.match(alias):
            raise ValueError(f"auth type alias must be one word, got {alias!r}")


def _check_model(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not (isinstance(value, type) and attrs.has(value)):
        raise TypeError(
            f"{attribute.name} must be an attrs class, got {value!r}; "
            "declare it with @attrs.frozen(kw_only=True)"
        )


def _to_tuple(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


_FLOW_PATH = re.compile(
    r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$"
)

FlowSpec: TypeAlias = type["AuthFlow[Any, Any]"] | str | None
"""A flow class, the ``"module:Class"`` path of one, or None."""


def _check_flow_path(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, str) and not _FLOW_PATH.match(value):
        raise ValueError(
            "flow must be an AuthFlow subclass or the path of one written as "
            f"'package.module:ClassName', got {value!r}"
        )


# Flows named by path, once imported; a name always stands for one class.
_resolved_flows: dict[str, type[AuthFlow[Any, Any]]] = {}


def _resolve_flow(auth_type: AuthType, path: str) -> type[AuthFlow[Any, Any]]:
    """Import the flow class at ``path`` (``module:Class``) and check it."""
    from authplug.flow import AuthFlow

    plugin = auth_type.plugin or auth_type.name
    where = f"the flow {path!r} of auth type {auth_type.name!r}"
    if auth_type.distribution is not None:
        where += f" ({auth_type.distribution} {auth_type.version})"
    remedy = "fix the plugin, or report it to its authors"

    module_name, _, qualname = path.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception as exc:
        message = f"{where} could not be imported: {exc!r}; {remedy}"
        raise PluginError(message, plugin=plugin) from exc

    if not (isinstance(found, type) and issubclass(found, AuthFlow)):
        message = f"{where} is {found!r}, not an authplug.AuthFlow subclass; {remedy}"
        raise PluginError(message, plugin=plugin)

    _resolved_flows[path] = found
    return found


@frozen(kw_only=True)
class AuthType:
    """One kind of authentication, as a plugin declares it.

    Args:
        name: Lowercase and dotted for grant subtypes, e.g.
            ``oauth2.client_credentials``.
        summary: One line saying what the type is for.
        user_model: The attrs class of what each user has (tokens, a
            user name, fields the user enters).
        app_model: The attrs class of what is set once per service
            (client id and secret, endpoint URLs, scopes).
        aliases: Other names that resolve to this type, such as the tags
            of Tray's connector kit (``OAUTH2``).
        parent: The name of the type this one derives from, if any.
        flow: The :class:`~authplug.flow.AuthFlow` subclass that applies
            the credentials to requests, or its path as
            ``"package.module:ClassName"``, imported the first time
            :attr:`flow` is read (so a plugin module need not import its
            flow, and what the flow needs, just to be registered); None for
            a type that is data only.
        plugin: Set by the registry: the plugin that provided the type.
        distribution: Set by the registry: the plugin's distribution name.
        version: Set by the registry: the distribution's version.

    Example:
        >>> import attrs
        >>> from authplug import AuthType, Secret
        >>> @attrs.frozen(kw_only=True)
        ... class KeyUser:
        ...     api_key: Secret
        >>> KEY = AuthType(name="acme.key", summary="Acme API key",
        ...                user_model=KeyUser)
        >>> KEY.load({"user": {"api_key": "k-123"}}).user
        KeyUser(api_key=Secret('********'))
    """

    name: str = field(validator=_check_name)
    summary: str
    user_model: type = field(default=NoFields, validator=_check_model)
    app_model: type = field(default=NoFields, validator=_check_model)
    aliases: tuple[str, ...] = field(
        default=(), converter=_to_tuple, validator=_check_aliases
    )
    parent: str | None = None
    _flow: FlowSpec = field(default=None, eq=False, validator=_check_flow_path)
    plugin: str | None = field(default=None, eq=False)
    distribution: str | None = field(default=None, eq=False)
    version: str | None = field(default=None, eq=False)

    @property
    def flow(self) -> type[AuthFlow[Any, Any]] | None:
        """Return the flow class, importing it first if it was given by path.

        Raises:
            PluginError: The path names no importable AuthFlow subclass.
        """
        given = self._flow
        if not isinstance(given, str):
            return given
        resolved = _resolved_flows.get(given)
        if resolved is None:
            resolved = _resolve_flow(self, given)
        return resolved

    @property
    def flow_spec(self) -> FlowSpec:
        """Return the flow as given: a class, a ``"module:Class"`` path or None.

        Unlike :attr:`flow` it never imports anything.
        """
        return self._flow

    @property
    def names(self) -> tuple[str, ...]:
        """Return the name followed by every alias."""
        return (self.name, *self.aliases)

    def load(
        self, data: Mapping[str, Any], *, source: str | None = None
    ) -> Credentials[Any, Any]:
        """Validate ``data`` and return the credentials it describes.

        Args:
            data: A mapping with ``user`` and ``app`` tables, and optionally
                ``type`` (which must name this type) and ``auth_id``. A
                side whose model has no required fields may be left out.
            source: Where the data came from, named in errors.

        Raises:
            ConfigError: With every bad field and its path.
        """
        errors = self._document_errors(data)
        if type(data) is not dict and not isinstance(data, Mapping):
            raise ConfigError(errors, source=source)

        user = _load_side(data, "user", self.user_model, errors)
        app = _load_side(data, "app", self.app_model, errors)

        auth_id = data.get("auth_id")
        if auth_id is not None and not isinstance(auth_id, str):
            kind = type_name(auth_id)
            errors.append(FieldError("auth_id", f"must be a string, got {kind}"))

        if errors:
            raise ConfigError(errors, source=source)
        return _new_credentials(self, user, app, auth_id)

    def create(
        self, *, user: Any = None, app: Any = None, auth_id: str | None = None
    ) -> Credentials[Any, Any]:
        """Build credentials from model instances made in Python.

        The instances are checked as strictly as a loaded document (attrs
        itself checks no types), and plain strings given for secrets are
        wrapped in :class:`~authplug.Secret`.

        Raises:
            ConfigError: With every bad field and its path.
        """
        errors: list[FieldError] = []
        checked: dict[str, Any] = {}
        for side, value, model in (
            ("user", user, self.user_model),
            ("app", app, self.app_model),
        ):
            if value is None:
                value = model()
            if not isinstance(value, model):
                kind = type(value).__name__
                message = f"must be a {model.__name__} instance, got {kind}"
                errors.append(FieldError(side, message))
                continue
            try:
                checked[side] = check_instance(value, side)
            except ConfigError as exc:
                errors.extend(exc.errors)

        if auth_id is not None and not isinstance(auth_id, str):
            kind = type_name(auth_id)
            errors.append(FieldError("auth_id", f"must be a string, got {kind}"))
        if errors:
            raise ConfigError(errors)
        return Credentials(
            type=self, user=checked["user"], app=checked["app"], auth_id=auth_id
        )

    def dump(
        self, credentials: Credentials[Any, Any], *, reveal_secrets: bool = True
    ) -> dict[str, Any]:
        """Return ``credentials`` as plain data that :meth:`load` accepts.

        Secrets are written out in full, since the result is meant for
        storage; pass ``reveal_secrets=False`` for something to display.
        """
        document: dict[str, Any] = {"type": self.name}
        if credentials.auth_id is not None:
            document["auth_id"] = credentials.auth_id
        document["user"] = unstructure(credentials.user, reveal_secrets=reveal_secrets)
        document["app"] = unstructure(credentials.app, reveal_secrets=reveal_secrets)
        return document

    def json_schema(self) -> dict[str, Any]:
        """Return a JSON Schema (draft 2020-12) of this type's documents."""
        from authplug.schema import auth_type_schema

        return auth_type_schema(self)

    def derive(
        self,
        *,
        name: str,
        summary: str,
        user_model: type | None = None,
        app_model: type | None = None,
        aliases: tuple[str, ...] = (),
        flow: FlowSpec = None,
    ) -> AuthType:
        """Return a new type built on this one.

        Models not given are this type's own; pass subclasses of them to add
        fields (a shop subdomain, a tenant id). The flow is inherited unless
        a new one is given.
        """
        return AuthType(
            name=name,
            summary=summary,
            user_model=user_model or self.user_model,
            app_model=app_model or self.app_model,
            aliases=aliases,
            parent=self.name,
            flow=flow or self._flow,
        )

    def _document_errors(self, data: object) -> list[FieldError]:
        if type(data) is not dict and not isinstance(data, Mapping):
            kind = type_name(data)
            return [FieldError("", f"credentials must be a table, got {kind}")]

        errors = []
        if not data.keys() <= _DOCUMENT_KEY_SET:
            for key in data:
                if key in _DOCUMENT_KEY_SET:
                    continue
                close = closest(str(key), _DOCUMENT_KEYS)
                hint = (
                    f"did you mean {close!r}?"
                    if close is not None
                    else "expected type, auth_id, user and app"
                )
                errors.append(FieldError(str(key), f"unknown field; {hint}"))

        declared = data.get("type")
        if declared is None or declared == self.name or self._is_named(declared):
            return errors
        if isinstance(declared, str):
            message = f"is {declared!r}, but these are {self.name!r}"
        else:
            message = f"must be the name of an auth type, got {type_name(declared)}"
        errors.append(FieldError("type", message))
        return errors

    def _is_named(self, declared: object) -> bool:
        # The registry resolves names whatever their case; so must we.
        if not isinstance(declared, str):
            return False
        wanted = declared.casefold()
        return any(name.casefold() == wanted for name in self.names)


def _load_side(
    data: Mapping[str, Any], side: str, model: type, errors: list[FieldError]
) -> Any:
    # The loader itself, not structure(): this runs on every load, and the
    # loader reports a side that is no table just as structure() would.
    try:
        return model_loader(model)(data.get(side, _EMPTY), None, side)
    except ConfigError as exc:
        errors.extend(exc.errors)
        return None


_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _type_repr(auth_type: AuthType) -> str:
    return repr(auth_type.name)


@frozen(kw_only=True)
class Credentials(Generic[UserT, AppT]):
    """Validated credentials of one auth type.

    Args:
        type: The auth type they belong to.
        user: An instance of the type's user model.
        app: An instance of the type's app model.
        auth_id: An identifier for this set of credentials, if any (Tray's
            ``authId``); stores use it as the key.
    """

    type: AuthType = field(repr=_type_repr)
    user: UserT
    app: AppT
    auth_id: str | None = None

    def with_user(self, **changes: Any) -> Credentials[UserT, AppT]:
        """Return a copy whose user model has ``changes`` applied.

        The changed user is checked as strictly as a loaded document, and
        plain strings given for secrets are wrapped in
        :class:`~authplug.Secret`, so a flow that stores a new token can
        never leave it readable in a repr.

        Raises:
            ConfigError: A change names no field of the user model or gives
                a value it does not accept; paths start with ``user``.
        """
        document = field_values(self.user)
        document.update(changes)
        user = structure(document, type(self.user), "user")
        return attrs.evolve(self, user=user)

    def dump(self, *, reveal_secrets: bool = True) -> dict[str, Any]:
        """Return these credentials as plain data; see :meth:`AuthType.dump`."""
        return self.type.dump(self, reveal_secrets=reveal_secrets)

    def flow(self, **options: Any) -> AuthFlow[UserT, AppT]:
        """Return the flow that applies these credentials to requests."""
        if self.type.flow is None:
            raise ConfigError(
                [FieldError("type", f"{self.type.name!r} defines no auth flow")]
            )
        return self.type.flow(self, **options)


def _fast_credentials() -> Callable[..., Credentials[Any, Any]] | None:
    """Return a builder of Credentials that skips ``__init__``, if one is safe.

    Every load ends by building Credentials from parts checked already;
    setting the slots directly does what attrs' ``__init__`` does, in half
    the time, as long as the class has no converter, validator or
    ``__attrs_post_init__``.
    """
    fields = attrs.fields(Credentials)
    names = ("type", "user", "app", "auth_id")
    plain = (
        tuple(field.name for field in fields) == names
        and all(f.converter is None and f.validator is None for f in fields)
        and not hasattr(Credentials, "__attrs_post_init__")
        and Credentials.__new__ is object.__new__
    )
    slots = [getattr(Credentials, name, None) for name in names]
    if not plain or not all(isinstance(s, MemberDescriptorType) for s in slots):
        return None

    new = object.__new__
    set_type, set_user, set_app, set_auth_id = (
        slot.__set__ for slot in slots if isinstance(slot, MemberDescriptorType)
    )

    def build(auth_type: AuthType, user: Any, app: Any, auth_id: str | None) -> Any:
        credentials = new(Credentials)
        set_type(credentials, auth_type)
        set_user(credentials, user)
        set_app(credentials, app)
        set_auth_id(credentials, auth_id)
        return credentials

    return build


def _credentials_by_init(
    auth_type: AuthType, user: Any, app: Any, auth_id: str | None
) -> Credentials[Any, Any]:
    return Credentials(type=auth_type, user=user, app=app, auth_id=auth_id)


_new_credentials = _fast_credentials() or _credentials_by_init
