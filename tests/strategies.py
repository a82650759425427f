"""Hypothesis strategies for valid documents of every built-in auth type.

Each strategy draws a plain mapping, as read from a file, that the type's
loader must accept. Secrets carry :data:`SECRET_MARK` and nothing else
does, so a test can prove a secret never leaks by looking for the mark in
any text: a repr, an error message, a log line.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = [
    "DOCUMENTS",
    "SECRET_MARK",
    "documents",
    "https_urls",
    "loopback_urls",
    "plain_text",
    "scope_tokens",
    "scopes",
    "secrets",
    "urls",
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


def _labels() -> st.SearchStrategy[str]:
    return st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)


def _hosts() -> st.SearchStrategy[str]:
    names = st.builds(
        lambda labels, tld: ".".join([*labels, tld]),
        st.lists(_labels(), min_size=1, max_size=3),
        st.sampled_from(["com", "org", "io", "example", "test"]),
    )
    addresses = st.sampled_from(["203.0.113.7", "[2001:db8::1]", "[::ffff:1.2.3.4]"])
    return st.one_of(names, addresses)


def _ports() -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))


def _rests() -> st.SearchStrategy[str]:
    path = st.from_regex(r"(/[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,8}){0,3}", fullmatch=True)
    query = st.one_of(
        st.just(""), st.from_regex(r"\?[A-Za-z0-9=&_-]{0,12}", fullmatch=True)
    )
    return st.builds(lambda p, q: p + q, path, query)


def https_urls() -> st.SearchStrategy[str]:
    """Draw an https URL on any host."""
    return st.builds(
        lambda host, port, rest: f"https://{host}{port}{rest}",
        _hosts(),
        _ports(),
        _rests(),
    )


def loopback_urls() -> st.SearchStrategy[str]:
    """Draw a plain http URL on a loopback host, which is allowed."""
    octet = st.integers(0, 255).map(str)
    ipv4 = st.builds(lambda a, b, c: f"127.{a}.{b}.{c}", octet, octet, octet)
    host = st.one_of(
        st.sampled_from(["localhost", "localhost.localdomain", "[::1]"]), ipv4
    )
    return st.builds(
        lambda host, port, rest: f"http://{host}{port}{rest}", host, _ports(), _rests()
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
