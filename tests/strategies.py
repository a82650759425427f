"""Hypothesis strategies for valid documents of every built-in auth type.

Each strategy draws a plain mapping, as read from a file, that the type's
loader must accept. Secrets carry :data:`SECRET_MARK` and nothing else
does, so a test can prove a secret never leaks by looking for the mark in
any text: a repr, an error message, a log line.
"""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin

import attrs
from hypothesis import strategies as st

from authplug import AuthType, Scopes, Secret, Url

__all__ = [
    "DOCUMENTS",
    "SECRET_MARK",
    "documents",
    "field_base",
    "fielded_sides",
    "https_urls",
    "is_url_field",
    "loopback_urls",
    "malformed_documents",
    "model_fields",
    "plain_text",
    "scope_tokens",
    "scopes",
    "secrets",
    "urls",
    "wrong_value",
]

SECRET_MARK = "§"
"""Appears in every generated secret and in no other generated value."""

Document = dict[str, Any]

_TEXT_ALPHABET = st.characters(
    codec="utf-8", exclude_categories=("Cs",), exclude_characters=SECRET_MARK
)


def plain_text(*, min_size: int = 0, max_size: int = 16) -> st.SearchStrategy[str]:
    """Draw any text without the secret mark."""
    return st.text(_TEXT_ALPHABET, min_size=min_size, max_size=max_size)


def secrets() -> st.SearchStrategy[str]:
    """Draw a secret: arbitrary text wrapped in the secret mark."""
    return plain_text().map(lambda body: f"{SECRET_MARK}{body}{SECRET_MARK}")


_LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=8).map(
    lambda label: label.strip("-") or "x"
)
_HOSTS = st.one_of(
    st.sampled_from(
        ["example.com", "api.example.org", "auth.test", "203.0.113.7", "[2001:db8::1]"]
    ),
    st.builds(
        lambda label, tld: f"{label}.{tld}", _LABEL, st.sampled_from(["com", "io"])
    ),
)
_PORTS = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))
_SEGMENT = st.text("abcdefghijklmnopqrstuvwxyz0123456789._~%!$&'()*+,;=:@-", max_size=8)
_RESTS = st.one_of(
    st.sampled_from(["", "/", "/oauth/token", "/authorize?prompt=consent", "/cb#x"]),
    st.builds(
        lambda segments, query: "".join(f"/{s}" for s in segments) + query,
        st.lists(_SEGMENT, max_size=3),
        st.sampled_from(["", "?", "?a=1", "?a=1&b=two"]),
    ),
)


def https_urls() -> st.SearchStrategy[str]:
    """Draw an https URL on any host."""
    return st.builds(
        lambda host, port, rest: f"https://{host}{port}{rest}", _HOSTS, _PORTS, _RESTS
    )


def loopback_urls() -> st.SearchStrategy[str]:
    """Draw a plain http URL on a loopback host, which is allowed."""
    octet = st.integers(0, 255).map(str)
    ipv4 = st.builds(lambda a, b, c: f"127.{a}.{b}.{c}", octet, octet, octet)
    host = st.one_of(
        st.sampled_from(["localhost", "localhost.localdomain", "[::1]"]), ipv4
    )
    return st.builds(
        lambda host, port, rest: f"http://{host}{port}{rest}", host, _PORTS, _RESTS
    )


def urls() -> st.SearchStrategy[str]:
    """Draw a URL that a :data:`~authplug.Url` field accepts."""
    return st.one_of(https_urls(), loopback_urls())


def scope_tokens() -> st.SearchStrategy[str]:
    """Draw one scope: no spaces, no commas (the string form splits on them)."""
    return st.from_regex(r"[A-Za-z0-9:._/+-]{1,12}", fullmatch=True)


def scopes() -> st.SearchStrategy[list[str] | str]:
    """Draw scopes in either documented form: a list, or one string."""
    listed = st.lists(scope_tokens(), max_size=4)
    joined = st.builds(
        lambda items, sep: sep.join(items), listed, st.sampled_from([" ", ",", ", "])
    )
    return st.one_of(listed, joined)


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def _header_names() -> st.SearchStrategy[str]:
    return st.from_regex(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,16}", fullmatch=True)


def _param_names() -> st.SearchStrategy[str]:
    return st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


def _expiry_times() -> st.SearchStrategy[float | int]:
    return st.one_of(
        st.floats(0, 4e9, allow_nan=False, allow_infinity=False),
        st.integers(0, 4_000_000_000),
    )


@st.composite
def _document(
    draw: st.DrawFn,
    type_names: st.SearchStrategy[str],
    user: st.SearchStrategy[Document] | None,
    app: st.SearchStrategy[Document] | None,
    *,
    user_required: bool,
    app_required: bool,
) -> Document:
    """Assemble a document, leaving out optional sides now and then."""
    document: Document = {"type": draw(type_names)}
    if draw(st.booleans()):
        document["auth_id"] = draw(plain_text())
    for side, strategy, required in (
        ("user", user, user_required),
        ("app", app, app_required),
    ):
        if strategy is None:
            if draw(st.booleans()):
                document[side] = {}
        elif required or draw(st.booleans()):
            document[side] = draw(strategy)
    return document


def none_documents() -> st.SearchStrategy[Document]:
    """Draw a document of the ``none`` type."""
    return _document(
        st.sampled_from(["none"]), None, None, user_required=False, app_required=False
    )


def token_documents() -> st.SearchStrategy[Document]:
    """Draw a document of the ``token`` type."""
    user = st.fixed_dictionaries({"access_token": secrets()})
    app = st.fixed_dictionaries(
        {},
        optional={
            "location": st.sampled_from(["header", "query"]),
            "header_name": _header_names(),
            "prefix": _optional(st.sampled_from(["Bearer", "Token", "Key", ""])),
            "query_param": _param_names(),
        },
    )
    return _document(
        st.sampled_from(["token", "TOKEN"]),
        user,
        app,
        user_required=True,
        app_required=False,
    )


def basic_documents() -> st.SearchStrategy[Document]:
    """Draw a document of the ``basic`` type."""
    username = plain_text().filter(lambda name: ":" not in name)
    user = st.fixed_dictionaries({"username": username, "password": secrets()})
    return _document(
        st.sampled_from(["basic"]), user, None, user_required=True, app_required=False
    )


def _token_fields() -> dict[str, st.SearchStrategy[Any]]:
    return {
        "access_token": _optional(secrets()),
        "refresh_token": _optional(secrets()),
        "expires_at": _optional(_expiry_times()),
        "token_type": st.sampled_from(["Bearer", "bearer", "MAC", "DPoP"]),
        "scopes": scopes(),
    }


def oauth2_token_users() -> st.SearchStrategy[Document]:
    """Draw the user side shared by the OAuth2 grants: issued tokens."""
    return st.fixed_dictionaries({}, optional=_token_fields())


def password_users() -> st.SearchStrategy[Document]:
    """Draw the user side of ``oauth2.password``."""
    return st.fixed_dictionaries(
        {"username": plain_text(), "password": secrets()}, optional=_token_fields()
    )


_CLIENT_AUTHS = st.sampled_from(
    [None, "client_secret_basic", "client_secret_post", "none"]
)
_CLIENT_IDS = plain_text(min_size=1)
_URLS = urls()
_SECRETS = secrets()
_CLIENT_OPTIONS = {
    "scopes": scopes(),
    "audience": _optional(plain_text()),
    "resource": _optional(https_urls()),
    "token_params": st.dictionaries(_param_names(), plain_text(), max_size=3),
}
_CLIENT_EXTRAS = st.fixed_dictionaries({}, optional=_CLIENT_OPTIONS)
_CODE_OPTIONS = {"redirect_uri": _optional(_URLS)}
# A public client must use PKCE; left out, pkce defaults to true.
_CODE_EXTRAS = {
    public: st.fixed_dictionaries(
        {},
        optional={
            **_CLIENT_OPTIONS,
            **_CODE_OPTIONS,
            "pkce": st.just(True) if public else st.booleans(),
        },
    )
    for public in (True, False)
}


@st.composite
def oauth2_clients(draw: st.DrawFn, *, code_grant: bool = False) -> Document:
    """Draw OAuth2 client settings; with ``code_grant``, those of ``oauth2``."""
    client_auth = draw(_CLIENT_AUTHS)
    app: Document = {"client_id": draw(_CLIENT_IDS), "token_url": draw(_URLS)}
    if client_auth is not None:
        app["client_auth"] = client_auth
    if client_auth != "none" or draw(st.booleans()):
        app["client_secret"] = draw(_SECRETS)

    if code_grant:
        app["auth_url"] = draw(_URLS)
        app.update(draw(_CODE_EXTRAS[client_auth == "none"]))
    else:
        app.update(draw(_CLIENT_EXTRAS))
    return app


def oauth2_documents() -> st.SearchStrategy[Document]:
    """Draw a document of the ``oauth2`` (authorization code) type."""
    return _document(
        st.sampled_from(["oauth2", "OAUTH2"]),
        oauth2_token_users(),
        oauth2_clients(code_grant=True),
        user_required=False,
        app_required=True,
    )


def client_credentials_documents() -> st.SearchStrategy[Document]:
    """Draw a document of the ``oauth2.client_credentials`` type."""
    return _document(
        st.sampled_from(["oauth2.client_credentials", "OAUTH2_CLIENT_CREDENTIALS"]),
        oauth2_token_users(),
        oauth2_clients(),
        user_required=False,
        app_required=True,
    )


def password_documents() -> st.SearchStrategy[Document]:
    """Draw a document of the ``oauth2.password`` type."""
    return _document(
        st.sampled_from(["oauth2.password", "OAUTH2_PASSWORD"]),
        password_users(),
        oauth2_clients(),
        user_required=True,
        app_required=True,
    )


_SIGNATURE_METHODS = st.sampled_from(
    [None, "HMAC-SHA1", "HMAC-SHA256", "RSA-SHA1", "PLAINTEXT"]
)
_CONSUMER_KEYS = plain_text()
_OAUTH1_EXTRAS = st.fixed_dictionaries(
    {},
    optional={
        "placement": st.sampled_from(["header", "query", "body"]),
        "request_token_url": _optional(_URLS),
        "authorize_url": _optional(_URLS),
        "access_token_url": _optional(_URLS),
        "callback_uri": _optional(st.one_of(st.just("oob"), _URLS)),
        "realm": _optional(plain_text()),
        "include_version": st.booleans(),
    },
)


@st.composite
def oauth1_apps(draw: st.DrawFn) -> Document:
    """Draw OAuth1 consumer settings, with the secret its method needs."""
    method = draw(_SIGNATURE_METHODS)
    app: Document = {"consumer_key": draw(_CONSUMER_KEYS)}
    if method is not None:
        app["signature_method"] = method
    if method == "RSA-SHA1":
        app["rsa_private_key"] = draw(_SECRETS)
    else:
        app["consumer_secret"] = draw(_SECRETS)

    app.update(draw(_OAUTH1_EXTRAS))
    return app


def oauth1_documents() -> st.SearchStrategy[Document]:
    """Draw a document of the ``oauth1`` type."""
    # The token credentials come in a pair: both set, or neither.
    pair = st.fixed_dictionaries({"token": secrets(), "token_secret": secrets()})
    unset = st.fixed_dictionaries(
        {}, optional={"token": st.none(), "token_secret": st.none()}
    )
    user = st.one_of(pair, unset)
    return _document(
        st.sampled_from(["oauth1", "OAUTH1"]),
        user,
        oauth1_apps(),
        user_required=False,
        app_required=True,
    )


DOCUMENTS: dict[str, st.SearchStrategy[Document]] = {
    "none": none_documents(),
    "token": token_documents(),
    "basic": basic_documents(),
    "oauth2": oauth2_documents(),
    "oauth2.client_credentials": client_credentials_documents(),
    "oauth2.password": password_documents(),
    "oauth1": oauth1_documents(),
}
"""A strategy of valid documents for each built-in type, by its name."""


def documents() -> st.SearchStrategy[Document]:
    """Draw a valid document of any built-in type."""
    return st.one_of(*DOCUMENTS.values())


# --- malformed documents -----------------------------------------------------


def field_base(type_: Any) -> Any:
    """Strip ``| None`` from an optional field's type."""
    if get_origin(type_) in (Union, types.UnionType):
        rest = [arg for arg in get_args(type_) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return type_


def model_fields(model: type) -> list[attrs.Attribute[Any]]:
    """Return the fields of ``model`` with their types resolved."""
    attrs.resolve_types(model)
    return list(attrs.fields(model))


def fielded_sides(auth_type: AuthType) -> list[tuple[str, type]]:
    """Return the sides of ``auth_type`` whose model has fields."""
    sides = [("user", auth_type.user_model), ("app", auth_type.app_model)]
    return [(side, model) for side, model in sides if attrs.fields(model)]


def wrong_value(type_: Any) -> object:
    """Return a value of the wrong kind for a field of ``type_``."""
    base = field_base(type_)
    if base in (str, Secret, Url):
        return 12345
    if base is Scopes:
        return 5
    if base is bool:
        return "yes"
    if base in (float, int):
        return "soon"
    if get_origin(base) is Literal:
        return 12345
    if get_origin(base) is dict:
        return "key=value"
    raise AssertionError(f"no wrong value for {type_!r}")


def is_url_field(attribute: attrs.Attribute[Any]) -> bool:
    """Tell whether ``attribute`` holds a URL that must use https."""
    return field_base(attribute.type) is Url or attribute.name == "callback_uri"


Mistake = Literal["wrong kind", "missing", "plain http", "unknown field"]


@st.composite
def malformed_documents(
    draw: st.DrawFn, auth_type: AuthType
) -> tuple[Document, str, Mistake]:
    """Draw a document of ``auth_type`` with one mistake in one field.

    Returns the document, the path of the field at fault and the kind of
    mistake: a value of the wrong kind, a required field left out, a plain
    http URL, or a misspelt field name.
    """
    document = draw(DOCUMENTS[auth_type.name])
    side, model = draw(st.sampled_from(fielded_sides(auth_type)))
    fields = model_fields(model)
    mistakes: list[Mistake] = ["wrong kind", "unknown field"]
    if any(field.default is attrs.NOTHING for field in fields):
        mistakes.append("missing")
    if any(is_url_field(field) for field in fields):
        mistakes.append("plain http")
    mistake = draw(st.sampled_from(mistakes))
    table = document.setdefault(side, {})

    if mistake == "missing":
        required = [field for field in fields if field.default is attrs.NOTHING]
        target = draw(st.sampled_from(required))
        table.pop(target.name, None)
        return document, f"{side}.{target.name}", mistake
    if mistake == "plain http":
        target = draw(st.sampled_from([f for f in fields if is_url_field(f)]))
        table[target.name] = "http://example.com/endpoint"
        return document, f"{side}.{target.name}", mistake

    target = draw(st.sampled_from(fields))
    if mistake == "unknown field":
        table[target.name + "s"] = "value"
        return document, f"{side}.{target.name}s", mistake
    table[target.name] = wrong_value(target.type)
    return document, f"{side}.{target.name}", mistake
