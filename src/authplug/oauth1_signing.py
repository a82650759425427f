"""Sign HTTP requests with OAuth 1.0a (RFC 5849), with no I/O of its own.

The pieces follow the RFC's own order: :func:`percent_encode` (3.6),
:func:`base_string_uri` (3.4.1.2), :func:`signature_base_string` (3.4.1),
:func:`compute_signature` (3.4.2 to 3.4.4), and :func:`sign_request`, which
puts the protocol parameters and the signature into a :class:`Request`
(3.5). The clock and the nonce are arguments, so a flow injects its own and
a test or a benchmark gets the same signature every time.

The three-legged dance (RFC 5849 section 2) is here too, as pure helpers: a
flow yields :func:`temporary_credentials_request`, sends the user to
:func:`authorization_url`, yields :func:`token_credentials_request`, and reads
each answer with :func:`parse_temporary_credentials` or
:func:`parse_token_credentials`.

Secrets arrive as plain ``str``: the caller unwraps :class:`authplug.Secret`
just before signing. No secret ever reaches an exception message or a log
line from this module.
"""

from __future__ import annotations

import base64
import functools
import hmac
import logging
import re
import secrets
from collections.abc import Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Final, Literal, get_args
from urllib.parse import quote, unquote_to_bytes, urlsplit

from attrs import field, frozen

from authplug.errors import FlowError, MissingDependency, TokenError
from authplug.http import Request, Response
from authplug.secret import Secret

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = [
    "FORM_CONTENT_TYPE",
    "PLACEMENTS",
    "SIGNATURE_METHODS",
    "Placement",
    "SignatureMethod",
    "SigningError",
    "TokenCredentials",
    "authorization_url",
    "base_string_uri",
    "compute_signature",
    "make_nonce",
    "parse_temporary_credentials",
    "parse_token_credentials",
    "percent_encode",
    "sign_request",
    "signature_base_string",
    "temporary_credentials_request",
    "token_credentials_request",
]

logger = logging.getLogger(__name__)

SignatureMethod = Literal["HMAC-SHA1", "HMAC-SHA256", "RSA-SHA1", "PLAINTEXT"]
Placement = Literal["header", "query", "body"]

SIGNATURE_METHODS: Final[tuple[SignatureMethod, ...]] = get_args(SignatureMethod)
PLACEMENTS: Final[tuple[Placement, ...]] = get_args(Placement)
FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"

# Every parameter sign_request writes; they are stripped from all three
# places before signing, so signing a request again replaces them.
_PROTOCOL_NAMES: Final = frozenset(
    {
        "oauth_consumer_key",
        "oauth_token",
        "oauth_signature_method",
        "oauth_signature",
        "oauth_timestamp",
        "oauth_nonce",
        "oauth_version",
        "oauth_callback",
        "oauth_verifier",
    }
)

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}

# What may stay as it is in a path (RFC 3986 pchar, "/" and existing
# escapes); anything else is escaped the way HTTP clients send it.
_PATH_SAFE: Final = "/%:@!$&'()*+,;=-._~"

_FIELD_NAME: Final = re.compile(r"[A-Za-z0-9_.\-]{1,64}")

_UNRESERVED: Final = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)
# Each byte as RFC 5849 section 3.6 writes it; indexing a tuple is a few
# times faster than urllib's quoting, and signing encodes dozens of parts.
_ESCAPES: Final = tuple(
    chr(byte) if byte in _UNRESERVED else f"%{byte:02X}" for byte in range(256)
)
_UNRESERVED_TEXT: Final = re.compile(r"[A-Za-z0-9\-._~]*")
# Form data already written the RFC's way: unreserved characters, and
# upper-case escapes of reserved octets only. Decoding and encoding such a
# part again gives it back unchanged, so signing can take it as it is.
_CANONICAL_PART: Final = re.compile(
    r"(?:[A-Za-z0-9\-._~]+"
    r"|%(?!2[DE]|3[0-9]|4[1-9A-F]|5[0-9AF]|6[1-9A-F]|7[0-9AE])[0-9A-F]{2})*"
)


class SigningError(FlowError, ValueError):
    """A request that cannot be signed as asked.

    Raised for an unknown signature method or placement, a URL that is not
    absolute http(s), a body placement on a request without a form body,
    or an unusable RSA key. The message never contains a secret.
    """


def percent_encode(value: str | bytes) -> str:
    """Percent-encode ``value`` as RFC 5849 section 3.6 requires.

    Text is encoded as UTF-8 first. Only the unreserved characters
    (``A-Z a-z 0-9 - . _ ~``) stay as they are; every other octet becomes
    ``%XX`` with upper-case hex digits, so a space is ``%20``, never ``+``.

    Example:
        >>> percent_encode("a b+c~*")
        'a%20b%2Bc~%2A'
    """
    if isinstance(value, str):
        if _UNRESERVED_TEXT.fullmatch(value):
            return value
        value = value.encode("utf-8")
    escapes = _ESCAPES
    return "".join([escapes[byte] for byte in value])


def base_string_uri(url: str) -> str:
    """Return the base string URI of ``url`` (RFC 5849 section 3.4.1.2).

    The scheme and host are lower-cased, a default port (80 for http, 443
    for https) is dropped, user info, query and fragment are left out, and
    an empty path becomes ``/``.

    Raises:
        SigningError: ``url`` is not an absolute http or https URL.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise SigningError(
            f"cannot sign a request to a {scheme or 'relative'} URL; "
            "OAuth1 signs absolute http:// or https:// URLs"
        )

    try:
        port = parts.port
    except ValueError as err:
        raise SigningError(
            f"cannot sign a request whose URL has an invalid port: {err}"
        ) from err
    # hostname is already lower case. A non-ASCII host is taken as it is,
    # not converted to IDNA, so sign such URLs in their punycode form.
    host = parts.hostname
    if not host:
        raise SigningError("cannot sign a request whose URL has no host")

    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = quote(parts.path, safe=_PATH_SAFE) or "/"
    return f"{scheme}://{host}{path}"


def signature_base_string(request: Request, oauth_params: Mapping[str, str]) -> str:
    """Return the signature base string of ``request`` (RFC 5849 3.4.1).

    The parameters are those of the query string, those of the body when
    the request declares ``application/x-www-form-urlencoded`` content, and
    ``oauth_params`` (the protocol parameters, without a realm). An
    ``oauth_signature`` found anywhere is left out. An Authorization header
    already on the request is not read.

    Args:
        request: The request as it will be sent, apart from its signature.
        oauth_params: The ``oauth_*`` protocol parameters.
    """
    pairs = _encoded_request_params(request)
    pairs.extend(
        (percent_encode(name), percent_encode(value))
        for name, value in oauth_params.items()
        if name != "realm"
    )

    normalized = "&".join(
        f"{name}={value}" for name, value in sorted(pairs) if name != "oauth_signature"
    )
    method = request.method.upper()
    uri = base_string_uri(request.url)
    return f"{method}&{percent_encode(uri)}&{percent_encode(normalized)}"


def compute_signature(
    base_string: str,
    *,
    signature_method: SignatureMethod,
    consumer_secret: str,
    token_secret: str = "",
    rsa_private_key: str | None = None,
) -> str:
    """Return the ``oauth_signature`` value for ``base_string``.

    Args:
        base_string: The signature base string, see
            :func:`signature_base_string`.
        signature_method: One of :data:`SIGNATURE_METHODS`.
        consumer_secret: The client shared secret (HMAC and PLAINTEXT).
        token_secret: The token shared secret, empty when there is none.
        rsa_private_key: The client's RSA private key as PEM text, needed
            by RSA-SHA1 only.

    Raises:
        SigningError: The method is unknown, or RSA-SHA1 has no usable key.
        MissingDependency: RSA-SHA1 is asked for without ``cryptography``.
    """
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    if signature_method == "PLAINTEXT":
        return key
    if signature_method == "HMAC-SHA1":
        return _hmac_signature("sha1", key, base_string)
    if signature_method == "HMAC-SHA256":
        return _hmac_signature("sha256", key, base_string)
    if signature_method == "RSA-SHA1":
        return _rsa_sha1_signature(rsa_private_key, base_string)
    raise SigningError(_unknown_method_message(signature_method))


def sign_request(
    request: Request,
    *,
    consumer_key: str,
    consumer_secret: str,
    timestamp: int,
    nonce: str,
    token: str | None = None,
    token_secret: str = "",
    signature_method: SignatureMethod = "HMAC-SHA1",
    placement: Placement = "header",
    realm: str | None = None,
    include_version: bool = False,
    callback: str | None = None,
    verifier: str | None = None,
    rsa_private_key: str | None = None,
) -> None:
    """Sign ``request`` in place with OAuth 1.0a.

    Protocol parameters a previous signing left in the Authorization
    header, the query or the form body are removed first, so signing the
    same request again (a retry) replaces them instead of adding more.

    Args:
        request: The request to sign; its headers, URL or body change.
        consumer_key: The client identifier.
        consumer_secret: The client shared secret (unused by RSA-SHA1).
        timestamp: Seconds since the epoch, from the caller's clock.
        nonce: A value unique for this timestamp, see :func:`make_nonce`.
        token: The temporary or access token; None for the temporary
            credentials request.
        token_secret: The secret of ``token``; empty when there is none.
        signature_method: One of :data:`SIGNATURE_METHODS`.
        placement: Where the parameters go: the ``Authorization`` header,
            the query string, or the form body (the request must declare
            ``application/x-www-form-urlencoded`` content).
        realm: The realm, sent first in the Authorization header and never
            signed; only valid with the header placement.
        include_version: Send ``oauth_version=1.0`` (optional in the RFC,
            demanded by a few servers).
        callback: The ``oauth_callback`` URI (or ``oob``), sent with the
            temporary credentials request.
        verifier: The ``oauth_verifier`` the user brought back, sent with
            the token credentials request.
        rsa_private_key: The client's RSA private key as PEM text, for
            RSA-SHA1.

    Raises:
        SigningError: An unknown method or placement, a realm outside the
            header, a body placement without a form body, a URL that is not
            absolute http(s), or an unusable RSA key.
        MissingDependency: RSA-SHA1 without ``cryptography`` installed.
    """
    _check_options(signature_method, placement, realm, timestamp, nonce)
    if placement == "body" and not _has_form_body(request):
        raise SigningError(
            "placement 'body' needs a request with Content-Type "
            f"{FORM_CONTENT_TYPE}; got "
            f"{request.header('content-type') or 'no Content-Type'}. "
            "Use placement 'header' or 'query', or send a form body"
        )

    # Sign a stripped copy, and change the request only once all went well.
    stripped = _without_protocol_params(request)
    oauth = _protocol_params(
        consumer_key=consumer_key,
        token=token,
        signature_method=signature_method,
        timestamp=timestamp,
        nonce=nonce,
        include_version=include_version,
        callback=callback,
        verifier=verifier,
    )
    base_string = signature_base_string(stripped, oauth)
    oauth["oauth_signature"] = compute_signature(
        base_string,
        signature_method=signature_method,
        consumer_secret=consumer_secret,
        token_secret=token_secret,
        rsa_private_key=rsa_private_key,
    )

    _drop_oauth_header(request)
    request.url = stripped.url
    if placement == "header":
        _set_header(request, "Authorization", _authorization_header(oauth, realm))
    elif placement == "query":
        parts = urlsplit(stripped.url)
        query = _join_form([parts.query, _encode_form(oauth)])
        request.url = parts._replace(query=query).geturl()
    if placement == "body":
        body = stripped.content.decode("latin-1")
        _set_body(request, _join_form([body, _encode_form(oauth)]))
    elif stripped.content != request.content:
        _set_body(request, stripped.content.decode("latin-1"))

    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "signed %s %s with %s in the %s",
            request.method,
            base_string_uri(request.url),
            signature_method,
            placement,
        )


def make_nonce() -> str:
    """Return a fresh random nonce.

    It is 24 hex digits (96 random bits): hex passes the character checks
    servers apply, and the length sits inside the 20 to 30 characters that
    common server libraries accept by default.
    """
    return secrets.token_hex(12)


def temporary_credentials_request(
    url: str,
    *,
    consumer_key: str,
    consumer_secret: str,
    timestamp: int,
    nonce: str,
    callback: str = "oob",
    signature_method: SignatureMethod = "HMAC-SHA1",
    placement: Placement = "header",
    realm: str | None = None,
    include_version: bool = False,
    rsa_private_key: str | None = None,
    method: str = "POST",
) -> Request:
    """Build the signed request for temporary credentials (RFC 5849 2.1).

    Args:
        url: The temporary credentials (request token) endpoint.
        callback: Where the server sends the user back after authorizing,
            or ``oob`` when the user copies the verifier by hand.
        method: The HTTP method; the RFC asks for POST.

    The other arguments are those of :func:`sign_request`.
    """
    request = _empty_request(method, url, placement)
    sign_request(
        request,
        consumer_key=consumer_key,
        consumer_secret=consumer_secret,
        timestamp=timestamp,
        nonce=nonce,
        signature_method=signature_method,
        placement=placement,
        realm=realm,
        include_version=include_version,
        callback=callback,
        rsa_private_key=rsa_private_key,
    )
    return request


def authorization_url(
    url: str, token: str, params: Mapping[str, str] | None = None
) -> str:
    """Return the URL that sends the user to authorize ``token`` (RFC 5849 2.2).

    Args:
        url: The resource owner authorization endpoint; a query it already
            has is kept.
        token: The temporary credentials identifier (``oauth_token``).
        params: Extra query parameters some servers accept there, such as
            ``perms`` or ``expiration``.
    """
    parts = urlsplit(url)
    kept = _drop_form_fields(parts.query, frozenset({"oauth_token"}))
    added = _encode_form({"oauth_token": token, **(params or {})})
    return parts._replace(query=_join_form([kept, added])).geturl()


def token_credentials_request(
    url: str,
    *,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
    verifier: str,
    timestamp: int,
    nonce: str,
    signature_method: SignatureMethod = "HMAC-SHA1",
    placement: Placement = "header",
    realm: str | None = None,
    include_version: bool = False,
    rsa_private_key: str | None = None,
    method: str = "POST",
) -> Request:
    """Build the signed request for token credentials (RFC 5849 2.3).

    Args:
        url: The token credentials (access token) endpoint.
        token: The temporary credentials identifier.
        token_secret: The temporary credentials secret.
        verifier: The ``oauth_verifier`` the user brought back.
        method: The HTTP method; the RFC asks for POST.

    The other arguments are those of :func:`sign_request`.
    """
    request = _empty_request(method, url, placement)
    sign_request(
        request,
        consumer_key=consumer_key,
        consumer_secret=consumer_secret,
        timestamp=timestamp,
        nonce=nonce,
        token=token,
        token_secret=token_secret,
        signature_method=signature_method,
        placement=placement,
        realm=realm,
        include_version=include_version,
        verifier=verifier,
        rsa_private_key=rsa_private_key,
    )
    return request


def _mask_extra(extra: Mapping[str, str]) -> str:
    # Extra fields may carry secrets (a session handle), so show names only.
    return f"<fields {sorted(extra)!r}>"


@frozen
class TokenCredentials:
    """Credentials a token endpoint handed out.

    Args:
        token: The ``oauth_token`` identifier.
        token_secret: The ``oauth_token_secret``.
        callback_confirmed: ``oauth_callback_confirmed`` as a bool, or
            None when the server did not send it.
        extra: Every other field of the response, by name, such as
            ``user_id``.
    """

    token: Secret
    token_secret: Secret
    callback_confirmed: bool | None = None
    extra: Mapping[str, str] = field(factory=dict, repr=_mask_extra)


def parse_temporary_credentials(
    response: Response, *, require_callback_confirmed: bool = True
) -> TokenCredentials:
    """Read the answer to a temporary credentials request (RFC 5849 2.1).

    Args:
        response: The token endpoint's response, body read in full.
        require_callback_confirmed: Insist on
            ``oauth_callback_confirmed=true``, which OAuth 1.0a servers
            must send; turn it off only for a server that speaks the older
            OAuth 1.0.

    Raises:
        TokenError: The status is not 2xx, or a field is missing or bad.
    """
    credentials = _parse_credentials(response, "temporary credentials")
    if require_callback_confirmed and credentials.callback_confirmed is not True:
        sent = "did not send it"
        if credentials.callback_confirmed is False:
            sent = "sent a value other than 'true'"
        raise TokenError(
            "the temporary credentials response needs "
            f"oauth_callback_confirmed=true but the server {sent}. If this "
            "server speaks OAuth 1.0 rather than 1.0a, pass "
            "require_callback_confirmed=False",
            status_code=response.status_code,
        )
    return credentials


def parse_token_credentials(response: Response) -> TokenCredentials:
    """Read the answer to a token credentials request (RFC 5849 2.3).

    Raises:
        TokenError: The status is not 2xx, or a field is missing or bad.
    """
    return _parse_credentials(response, "token credentials")


def _check_options(
    signature_method: str,
    placement: str,
    realm: str | None,
    timestamp: int,
    nonce: str,
) -> None:
    if signature_method not in SIGNATURE_METHODS:
        raise SigningError(_unknown_method_message(signature_method))
    if placement not in PLACEMENTS:
        choices = ", ".join(repr(choice) for choice in PLACEMENTS)
        raise SigningError(
            f"unknown OAuth1 placement {placement!r}; choose one of {choices}"
        )
    if realm is not None:
        if placement != "header":
            raise SigningError(
                "a realm is only sent in the Authorization header; use "
                f"placement 'header' or drop the realm (placement is {placement!r})"
            )
        if not all(" " <= char <= "~" for char in realm):
            raise SigningError(
                f"the realm must be printable ASCII to fit in a header; got {realm!r}"
            )
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise SigningError(
            f"timestamp must be whole seconds as an int, got {type(timestamp).__name__}"
        )
    if timestamp < 0:
        raise SigningError(f"timestamp must not be negative, got {timestamp}")
    if not nonce:
        raise SigningError("nonce must not be empty; use make_nonce()")


def _unknown_method_message(signature_method: str) -> str:
    choices = ", ".join(repr(choice) for choice in SIGNATURE_METHODS)
    return (
        f"unknown OAuth1 signature method {signature_method!r}; choose one of {choices}"
    )


def _protocol_params(
    *,
    consumer_key: str,
    token: str | None,
    signature_method: str,
    timestamp: int,
    nonce: str,
    include_version: bool,
    callback: str | None,
    verifier: str | None,
) -> dict[str, str]:
    oauth = {"oauth_consumer_key": consumer_key}
    if token is not None:
        oauth["oauth_token"] = token
    oauth["oauth_signature_method"] = signature_method
    oauth["oauth_timestamp"] = str(timestamp)
    oauth["oauth_nonce"] = nonce
    if include_version:
        oauth["oauth_version"] = "1.0"
    if callback is not None:
        oauth["oauth_callback"] = callback
    if verifier is not None:
        oauth["oauth_verifier"] = verifier
    return oauth


def _hmac_signature(digest: str, key: str, base_string: str) -> str:
    mac = hmac.digest(key.encode("ascii"), base_string.encode("ascii"), digest)
    return base64.b64encode(mac).decode("ascii")


def _rsa_sha1_signature(rsa_private_key: str | None, base_string: str) -> str:
    if not rsa_private_key:
        raise SigningError(
            "RSA-SHA1 needs the client's RSA private key; pass rsa_private_key "
            "as PEM text"
        )
    try:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
    except ImportError as err:
        raise MissingDependency("RSA-SHA1 signing", "rsa") from err

    key = _load_rsa_key(rsa_private_key)
    signature = key.sign(base_string.encode("ascii"), padding.PKCS1v15(), hashes.SHA1())
    return base64.b64encode(signature).decode("ascii")


# Loading a PEM key costs milliseconds (the key is checked), far more than a
# signature, so each key text is loaded once per process.
@functools.lru_cache(maxsize=16)
def _load_rsa_key(pem: str) -> RSAPrivateKey:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem.encode("utf-8"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        # The library's message names the failure, never the key material.
        raise SigningError(
            "rsa_private_key is not a usable PEM private key (it must be an "
            f"unencrypted RSA key in PEM form): {err}"
        ) from err

    if not isinstance(key, RSAPrivateKey):
        raise SigningError(
            f"rsa_private_key holds a {type(key).__name__}, but RSA-SHA1 "
            "needs an RSA private key"
        )
    return key


def _authorization_header(oauth: Mapping[str, str], realm: str | None) -> str:
    fields = [
        f'{percent_encode(name)}="{percent_encode(value)}"'
        for name, value in oauth.items()
    ]
    if realm is not None:
        quoted = realm.replace("\\", "\\\\").replace('"', '\\"')
        fields.insert(0, f'realm="{quoted}"')
    return "OAuth " + ", ".join(fields)


def _encode_form(params: Mapping[str, str]) -> str:
    return "&".join(
        f"{percent_encode(name)}={percent_encode(value)}"
        for name, value in params.items()
    )


def _join_form(chunks: Iterable[str]) -> str:
    return "&".join(chunk for chunk in chunks if chunk)


def _decode_form_part(raw: str) -> bytes:
    return unquote_to_bytes(raw.replace("+", " "))


def _split_form(text: str) -> list[tuple[str, str]]:
    """Split form data into raw, still encoded (name, value) pairs."""
    pairs = []
    for chunk in text.split("&"):
        if chunk:
            name, _, value = chunk.partition("=")
            pairs.append((name, value))
    return pairs


def _drop_form_fields(text: str, names: frozenset[str]) -> str:
    """Return form data ``text`` without the fields in ``names``.

    Every other field keeps its exact original spelling, so nothing the
    caller wrote is re-encoded.
    """
    if not text:
        return text
    kept = [
        chunk
        for chunk in text.split("&")
        if not chunk or _field_name(chunk) not in names
    ]
    return "&".join(kept)


def _field_name(chunk: str) -> str:
    name = chunk.partition("=")[0]
    if "%" not in name and "+" not in name:
        return name
    return _decode_form_part(name).decode("utf-8", errors="replace")


def _encoded_request_params(request: Request) -> list[tuple[str, str]]:
    """Return the query and form body parameters, RFC 5849 encoded."""
    sources = [urlsplit(request.url).query]
    if _has_form_body(request):
        # latin-1 maps every byte to one char, so the split is byte exact.
        sources.append(request.content.decode("latin-1"))

    pairs = []
    for source in sources:
        for name, value in _split_form(source):
            pairs.append((_rfc_encoded(name), _rfc_encoded(value)))
    return pairs


def _rfc_encoded(raw: str) -> str:
    """Return the raw form part ``raw`` encoded as RFC 5849 section 3.6 says."""
    if _CANONICAL_PART.fullmatch(raw):
        return raw
    return percent_encode(_decode_form_part(raw))


def _has_form_body(request: Request) -> bool:
    content_type = request.header("content-type") or ""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == FORM_CONTENT_TYPE


def _without_protocol_params(request: Request) -> Request:
    """Return a copy of ``request`` without an earlier signing's parameters.

    The copy shares the headers, which it only reads; the Authorization
    header is dealt with by :func:`_drop_oauth_header`.
    """
    parts = urlsplit(request.url)
    query = _drop_form_fields(parts.query, _PROTOCOL_NAMES)
    url = parts._replace(query=query).geturl() if query != parts.query else request.url

    content = request.content
    if content and _has_form_body(request):
        body = _drop_form_fields(content.decode("latin-1"), _PROTOCOL_NAMES)
        content = body.encode("latin-1")
    return Request(request.method, url, request.headers, content)


def _drop_oauth_header(request: Request) -> None:
    for name in _header_names(request.headers, "authorization"):
        if request.headers[name].lstrip()[:6].lower() == "oauth ":
            del request.headers[name]


def _set_body(request: Request, body: str) -> None:
    request.content = body.encode("latin-1")
    # A stale Content-Length would cut the body short or hang the server.
    for name in _header_names(request.headers, "content-length"):
        request.headers[name] = str(len(request.content))


def _set_header(request: Request, name: str, value: str) -> None:
    # Drop every spelling first: a plain dict would keep two of them.
    for existing in _header_names(request.headers, name.lower()):
        del request.headers[existing]
    request.headers[name] = value


def _header_names(headers: MutableMapping[str, str], lowered: str) -> list[str]:
    return [name for name in headers if name.lower() == lowered]


def _empty_request(method: str, url: str, placement: str) -> Request:
    request = Request(method.upper(), url)
    if placement == "body":
        request.headers["Content-Type"] = FORM_CONTENT_TYPE
    return request


def _parse_credentials(response: Response, what: str) -> TokenCredentials:
    status = response.status_code
    content_type = response.content_type or "no content type"
    where = f"the {what} response (HTTP {status}, {content_type})"
    fields = _response_fields(response)

    if not 200 <= status < 300:
        raise _refusal(where, fields, status)
    if fields is None:
        raise TokenError(
            f"{where} is not UTF-8 form data; expected "
            f"{FORM_CONTENT_TYPE} fields oauth_token and oauth_token_secret",
            status_code=status,
        )

    found: dict[str, str] = {}
    for name, value in fields:
        if name in found:
            raise TokenError(
                f"{where} sends the field {name!r} more than once",
                status_code=status,
            )
        found[name] = value
    for required in ("oauth_token", "oauth_token_secret"):
        if required not in found:
            raise TokenError(
                f"{where} lacks the field {required!r}; it has "
                f"{_describe_fields(found)}. Check the endpoint URL and "
                "that the server answers with form-encoded credentials",
                status_code=status,
            )
    if not found["oauth_token"]:
        raise TokenError(f"{where} has an empty 'oauth_token'", status_code=status)

    confirmed = found.pop("oauth_callback_confirmed", None)
    return TokenCredentials(
        token=Secret(found.pop("oauth_token")),
        token_secret=Secret(found.pop("oauth_token_secret")),
        callback_confirmed=None if confirmed is None else confirmed == "true",
        extra=found,
    )


def _describe_fields(fields: Iterable[str]) -> str:
    # A body that is not a form (HTML, JSON) parses into odd "names" that
    # may hold the very values we must not echo, so show plain names only.
    names = sorted(fields)
    shown = [name for name in names if _FIELD_NAME.fullmatch(name)]
    if not names:
        return "no fields"

    hidden = len(names) - len(shown)
    parts = [", ".join(repr(name) for name in shown)] if shown else []
    if hidden:
        parts.append(f"{hidden} unreadable (is the body form-encoded?)")
    return " and ".join(parts)


def _response_fields(response: Response) -> list[tuple[str, str]] | None:
    """Decode a form-encoded body, or return None if it is not one."""
    try:
        text = response.content.decode("utf-8")
        return [
            (
                _decode_form_part(name).decode("utf-8"),
                _decode_form_part(value).decode("utf-8"),
            )
            for name, value in _split_form(text.strip())
        ]
    except UnicodeDecodeError:
        return None


def _refusal(
    where: str, fields: list[tuple[str, str]] | None, status: int
) -> TokenError:
    # The OAuth problem reporting extension names what went wrong; those
    # two fields are diagnostics, never secrets, so they may be shown.
    report = dict(fields or [])
    problem = report.get("oauth_problem")
    advice = report.get("oauth_problem_advice")

    message = f"{where} is a refusal"
    if problem:
        message += f": oauth_problem={problem[:200]!r}"
    if advice:
        message += f" ({advice[:200]!r})"
    message += ". Check the consumer key and secret, the clock, and the URL"
    return TokenError(message, error=problem, description=advice, status_code=status)
