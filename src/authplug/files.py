"""Read and write credentials files.

Two document shapes are read, from JSON or TOML:

- authplug's own, ``{"type": ..., "auth_id": ..., "user": {...}, "app": {...}}``;
- a Tray connector test context (``test.ctx.json``),
  ``{"auth": {"authType": "OAUTH2", "authId": ..., "user": {...}, "app": {...}}}``.
  ``authType`` resolves through the registry, so Tray's tags work as they
  are; when a context leaves it out, the caller names the type. Tray's
  ``refreshMessage`` and any keys beside ``auth`` are run-time context, not
  credentials: they are ignored and reported as such.

Every string value may refer to environment variables as ``${NAME}``; write
``$${`` for a literal ``${``. A variable that is not set is an error naming
the variable and the field, never the value of anything.

The format is chosen by the file's suffix (``.json``, ``.toml``); any other
name is read as JSON when it starts with ``{`` and as TOML otherwise.
Problems with the content raise :class:`~authplug.ConfigError` with
``source`` set to the file name and every problem listed with its path; a
file that cannot be opened raises the usual :class:`OSError`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from attrs import frozen

from authplug.errors import ConfigError, FieldError, MissingDependency, UnknownAuthType

if TYPE_CHECKING:
    from authplug.records import Credentials
    from authplug.registry import Registry

__all__ = [
    "CredentialsFile",
    "Format",
    "expand_variables",
    "read_credentials",
    "read_credentials_file",
    "read_document",
    "write_credentials_file",
]

Format = Literal["json", "toml"]
Shape = Literal["authplug", "tray"]

# "$${" is the escape; "${NAME}" a reference; any other "${" is a mistake.
_REFERENCE = re.compile(r"\$\$\{|\$\{(?:([A-Za-z_][A-Za-z0-9_]*)\})?")
_TRAY_AUTH_KEYS = ("authType", "authId", "user", "app")
_TRAY_IGNORED_KEYS = ("refreshMessage",)
_AUTHPLUG_KEYS = ("type", "auth_id", "user", "app")


@frozen
class CredentialsFile:
    """Credentials read from a file, with what was learned on the way.

    Args:
        credentials: The validated credentials.
        path: The file they came from.
        format: ``"json"`` or ``"toml"``.
        shape: ``"authplug"`` for authplug's own document, ``"tray"`` for
            a Tray test context.
        ignored: Paths of keys that were read but deliberately not used,
            such as Tray's ``auth.refreshMessage``.
    """

    credentials: Credentials[Any, Any]
    path: Path
    format: Format
    shape: Shape
    ignored: tuple[str, ...] = ()


class _JsonObject(dict[str, Any]):
    """A JSON object that remembers keys the file set more than once."""

    duplicates: tuple[str, ...] = ()


def _json_object(pairs: list[tuple[str, Any]]) -> _JsonObject:
    result = _JsonObject()
    seen: set[str] = set()
    repeated: list[str] = []
    for key, value in pairs:
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
        result[key] = value
    result.duplicates = tuple(repeated)
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a credentials file")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _detect_format(path: Path, text: str) -> Format:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix == ".toml":
        return "toml"
    return "json" if text.lstrip().startswith("{") else "toml"


def _parse(text: str, format: Format, source: str) -> Any:
    if format == "json":
        try:
            return json.loads(
                text, object_pairs_hook=_json_object, parse_constant=_reject_constant
            )
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            message = f"is not valid JSON: {exc.msg} (at {where})"
        except ValueError as exc:
            message = f"is not valid JSON: {exc}"
    else:
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            # tomllib's message already ends with "(at line L, column C)".
            message = f"is not valid TOML: {exc}"
    raise ConfigError([FieldError("", f"the file {message}")], source=source)


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        error = FieldError(
            "", f"the file is not UTF-8 text (bad byte at offset {exc.start})"
        )
        raise ConfigError([error], source=str(path)) from None


def _expand_text(
    text: str, path: str, environ: Mapping[str, str], errors: list[FieldError]
) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"

        name = match.group(1)
        if name is None:
            errors.append(
                FieldError(
                    path,
                    "has a '${' that does not start a ${NAME} reference; "
                    "write '$${' for a literal '${'",
                )
            )
            return match.group(0)

        value = environ.get(name)
        if value is None:
            errors.append(
                FieldError(
                    path,
                    f"refers to the environment variable {name}, which is not "
                    "set; set it, or write '$${' for a literal '${'",
                )
            )
            return match.group(0)
        return value

    if "$" not in text:
        return text
    return _REFERENCE.sub(replace, text)


def _expand(
    value: Any, path: str, environ: Mapping[str, str], errors: list[FieldError]
) -> Any:
    if isinstance(value, str):
        return _expand_text(value, path, environ, errors)

    if isinstance(value, Mapping):
        for key in getattr(value, "duplicates", ()):
            errors.append(
                FieldError(_join(path, key), "is set more than once; keep one")
            )
        return {
            key: _expand(item, _join(path, str(key)), environ, errors)
            for key, item in value.items()
        }

    if isinstance(value, list):
        return [
            _expand(item, f"{path}[{index}]", environ, errors)
            for index, item in enumerate(value)
        ]
    return value


def expand_variables(
    data: Any, environ: Mapping[str, str] | None = None, *, source: str | None = None
) -> Any:
    """Return ``data`` with every ``${NAME}`` in its strings filled in.

    Args:
        data: Plain data: mappings, lists, strings and scalars.
        environ: Where variables come from; the process environment by
            default.
        source: Where the data came from, named in errors.

    Raises:
        ConfigError: A variable is not set, or a ``${`` starts no reference;
            every such field is listed, and no value is ever quoted.
    """
    errors: list[FieldError] = []
    expanded = _expand(data, "", os.environ if environ is None else environ, errors)
    if errors:
        raise ConfigError(errors, source=source)
    return expanded


def _load_raw(path: Path) -> tuple[Any, Format]:
    source = str(path)
    text = _read_text(path)
    format = _detect_format(path, text)
    document = _parse(text, format, source)
    if not isinstance(document, Mapping):
        kind = type(document).__name__
        error = FieldError("", f"the file must hold a table of fields, not a {kind}")
        raise ConfigError([error], source=source)
    return document, format


def read_document(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Read a credentials file into plain data, with variables filled in.

    The document keeps its shape: a Tray test context stays one. Nothing is
    validated beyond the syntax and the variable references; see
    :func:`read_credentials_file` for that.

    Args:
        path: The JSON or TOML file.
        environ: Where ``${NAME}`` values come from; the process
            environment by default.

    Raises:
        ConfigError: The file is not valid JSON or TOML (with line and
            column), is not a table, repeats a key, or refers to variables
            that are not set.
        OSError: The file cannot be read.
    """
    resolved = Path(path)
    document, _ = _load_raw(resolved)
    expanded: dict[str, Any] = expand_variables(document, environ, source=str(resolved))
    return expanded


def _is_tray_context(document: Mapping[str, Any]) -> bool:
    return "auth" in document and not any(key in document for key in _AUTHPLUG_KEYS)


def _tray_path(path: str) -> str:
    """Map a path in an authplug document to the same place in a Tray context."""
    head, dot, rest = path.partition(".")
    bracket = head.find("[")
    if bracket > 0:
        head, rest, dot = head[:bracket], head[bracket:] + dot + rest, ""
    renamed = {"type": "authType", "auth_id": "authId"}.get(head, head)
    if not renamed:
        return "auth"
    return f"auth.{renamed}{dot}{rest}"


def _tray_to_document(
    context: Mapping[str, Any], type: str | None, registry: Registry
) -> tuple[dict[str, Any], list[FieldError], list[str]]:
    """Turn a Tray test context into an authplug document.

    Returns the document, the problems found in the context's own keys,
    and the paths that were ignored.
    """
    errors: list[FieldError] = []
    ignored = [str(key) for key in context if key != "auth"]

    auth = context["auth"]
    if not isinstance(auth, Mapping):
        errors.append(FieldError("auth", "must be a table of credentials"))
        return {}, errors, ignored

    for key in auth:
        if key in _TRAY_IGNORED_KEYS:
            ignored.append(f"auth.{key}")
        elif key not in _TRAY_AUTH_KEYS:
            errors.append(
                FieldError(
                    f"auth.{key}",
                    "unknown field; a Tray auth context has authType, authId, "
                    "user and app",
                )
            )

    name = _tray_type_name(auth.get("authType"), type, registry, errors)
    document: dict[str, Any] = {
        "user": auth.get("user", {}),
        "app": auth.get("app", {}),
    }
    if name is not None:
        document["type"] = name
    if "authId" in auth:
        document["auth_id"] = auth["authId"]
    return document, errors, ignored


def _tray_type_name(
    declared: object, wanted: str | None, registry: Registry, errors: list[FieldError]
) -> str | None:
    path = "auth.authType"
    chosen = registry.get(wanted) if wanted is not None else None
    if declared is None:
        if chosen is None:
            known = ", ".join(registry.names())
            errors.append(
                FieldError(
                    path,
                    "is not set, as in many Tray test contexts; name the type "
                    f"(authplug validate --type NAME), one of: {known}",
                )
            )
            return None
        return chosen.name

    if not isinstance(declared, str):
        errors.append(FieldError(path, "must be the name of an auth type"))
        return None
    try:
        found = registry.get(declared)
    except UnknownAuthType as exc:
        errors.append(FieldError(path, str(exc)))
        return None

    if chosen is not None and chosen.name != found.name:
        errors.append(
            FieldError(
                path,
                f"is {declared!r} ({found.name}), but the type asked for is "
                f"{chosen.name!r}",
            )
        )
        return None
    return found.name


def _is_under(path: str, prefix: str) -> bool:
    return (
        path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[")
    )


def _hint_hidden_fields(error: FieldError) -> FieldError:
    """Explain Tray's '#'-prefixed fields, which no authplug model declares."""
    last = re.split(r"[.\[]", error.path)[-1]
    if not last.startswith("#") or not error.message.startswith("unknown field"):
        return error
    return FieldError(
        error.path,
        "unknown field; Tray marks hidden fields with '#', which authplug "
        "does not: declare the field (without '#') in a derived type and "
        "rename it here",
    )


def read_credentials(
    path: str | os.PathLike[str],
    *,
    type: str | None = None,
    environ: Mapping[str, str] | None = None,
    registry: Registry | None = None,
) -> CredentialsFile:
    """Read and validate a credentials file, keeping what was learned.

    Like :func:`read_credentials_file`, but returns a
    :class:`CredentialsFile` that also tells the format, the shape and the
    keys that were ignored.
    """
    from authplug.registry import registry as default_registry

    resolved = Path(path)
    source = str(resolved)
    chosen_registry = registry if registry is not None else default_registry()
    if type is not None:
        # An unknown type name is the caller's mistake, not the file's.
        chosen_registry.get(type)

    raw, format = _load_raw(resolved)
    problems: list[FieldError] = []
    variables = os.environ if environ is None else environ
    document = _expand(raw, "", variables, problems)

    shape: Shape = "authplug"
    ignored: list[str] = []
    relocate: Callable[[str], str] = str
    if _is_tray_context(document):
        shape = "tray"
        document, context_problems, ignored = _tray_to_document(
            document, type, chosen_registry
        )
        problems.extend(context_problems)
        relocate, type = _tray_path, None

    credentials, errors = _load(document, type, chosen_registry, relocate, problems)
    if problems or errors:
        raise ConfigError([*problems, *errors], source=source)
    assert credentials is not None
    return CredentialsFile(credentials, resolved, format, shape, tuple(ignored))


def _load(
    document: Mapping[str, Any],
    type: str | None,
    registry: Registry,
    relocate: Callable[[str], str],
    problems: list[FieldError],
) -> tuple[Credentials[Any, Any] | None, list[FieldError]]:
    """Validate ``document``, leaving out errors that repeat ``problems``."""
    if type is None and "type" not in document and problems:
        # A Tray context whose type could not be resolved: nothing to check
        # the fields against, and the problem is already reported.
        return None, []

    try:
        return registry.load(document, type=type), []
    except ConfigError as exc:
        failures = exc.errors

    errors = []
    for failure in failures:
        error = _hint_hidden_fields(FieldError(relocate(failure.path), failure.message))
        # A field whose variable is missing still holds the reference, so
        # its own validation error would only repeat the real problem.
        if not any(_is_under(error.path, p.path) for p in problems if p.path):
            errors.append(error)
    return None, errors


def read_credentials_file(
    path: str | os.PathLike[str],
    *,
    type: str | None = None,
    environ: Mapping[str, str] | None = None,
    registry: Registry | None = None,
) -> Credentials[Any, Any]:
    """Read a JSON or TOML credentials file and validate it.

    Args:
        path: The file: an authplug document or a Tray test context.
        type: The auth type to use when the file names none, or to insist
            on when it does.
        environ: Where ``${NAME}`` values come from; the process
            environment by default.
        registry: The registry that resolves type names; the process
            default by default.

    Raises:
        ConfigError: With ``source`` set to ``path`` and every problem
            listed: syntax (with line and column), unset variables, unknown
            or bad fields, each with its path in the file.
        OSError: The file cannot be read.
    """
    loaded = read_credentials(path, type=type, environ=environ, registry=registry)
    return loaded.credentials


def _drop_nulls(value: Any, path: str, dropped: list[str]) -> Any:
    if isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            if item is None:
                dropped.append(_join(path, key))
                continue
            kept[key] = _drop_nulls(item, _join(path, key), dropped)
        return kept
    if isinstance(value, list):
        return [
            _drop_nulls(item, f"{path}[{i}]", dropped) for i, item in enumerate(value)
        ]
    return value


def _render_toml(credentials: Credentials[Any, Any], source: str) -> str:
    try:
        import tomli_w
    except ImportError:
        raise MissingDependency("writing TOML credentials files", "toml") from None

    dropped: list[str] = []
    document = _drop_nulls(credentials.dump(), "", dropped)

    # TOML has no null. Leaving a null out is right only when it is also the
    # field's default, so check that the trimmed document means the same.
    try:
        same = credentials.type.load(document) == credentials
    except ConfigError:
        same = False
    if not same:
        errors = [
            FieldError(path, "is null, which TOML cannot hold; write a .json file")
            for path in dropped
        ]
        raise ConfigError(errors, source=source)
    return tomli_w.dumps(escape_references(document))


def escape_references(value: Any) -> Any:
    """Return ``value`` with every ``${`` in its strings written as ``$${``.

    Reading a file expands ``${NAME}``, so a value that holds those two
    characters must be escaped on the way out to read back unchanged.
    """
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {key: escape_references(item) for key, item in value.items()}
    if isinstance(value, list):
        return [escape_references(item) for item in value]
    return value


def write_credentials_file(
    path: str | os.PathLike[str],
    credentials: Credentials[Any, Any],
    *,
    format: Format | None = None,
) -> Path:
    """Write ``credentials`` to a file that only its owner can read.

    Secrets are written in full: the file is storage. The file is created
    with mode 0600 and replaced atomically (a temporary file in the same
    directory, then a rename), so a reader sees the old file or the new
    one, never half of either. ``${NAME}`` references are not kept: the
    values are written, and a literal ``${`` in a value is escaped as
    ``$${`` so the file reads back to the same credentials.

    Args:
        path: Where to write.
        credentials: What to write.
        format: ``"json"`` or ``"toml"``; by default TOML for a ``.toml``
            name and JSON otherwise. TOML needs the ``toml`` extra
            (``pip install 'authplug[toml]'``).

    Returns:
        The path written.

    Raises:
        ConfigError: The credentials hold a null that TOML cannot express.
        MissingDependency: TOML was asked for and tomli-w is missing.
        OSError: The directory is not writable.
    """
    target = Path(path)
    chosen = format or ("toml" if target.suffix.lower() == ".toml" else "json")
    if chosen == "toml":
        text = _render_toml(credentials, str(target))
    else:
        document = escape_references(credentials.dump())
        text = json.dumps(document, indent=2) + "\n"

    _write_private(target, text)
    return target


def _write_private(target: Path, text: str) -> None:
    # mkstemp creates the file 0600 whatever the umask, so the secrets are
    # never readable by others, not even for a moment.
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
