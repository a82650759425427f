"""Sign requests with AWS Signature Version 4, without any I/O.

The signer works on an :class:`authplug.http.Request` in place. It takes
the signing time as an argument, so the same inputs always give the same
signature, and it never reads a clock, the environment or the network.

Two placements are supported:

* ``Placement.HEADER`` adds ``X-Amz-Date``, ``X-Amz-Security-Token`` (with
  a session token), ``X-Amz-Content-SHA256`` (for S3 or an unsigned
  payload) and the ``Authorization`` header.
* ``Placement.QUERY`` turns the request into a presigned URL: the
  ``X-Amz-*`` parameters go into the query string, the signature last.

The signer owns those headers and parameters: signing again replaces them
rather than adding a second copy, so a retried request signs cleanly.

Before signing, the URL is brought into the exact form that goes on the
wire, so that the bytes a server receives are the bytes that were signed.
The query string is re-encoded parameter by parameter in AWS's strict form
(``%20`` for a space, upper-case hex, only ``A-Z a-z 0-9 - _ . ~`` left
bare), keeping the order of the parameters; a ``+`` in it is read as a
space, as HTML forms and ``Request.set_query_param`` write it. Under S3's
rules the path gets the same strict encoding, and a raw ``+`` in it counts
as a space, as S3 reads it (write ``%2B`` for a plus sign): S3 gets the key
it would have read anyway, now spelt exactly as signed. For other services
only characters that may not appear raw in a path are escaped.

Example:
    >>> from datetime import datetime, timezone
    >>> from authplug.http import Request
    >>> request = Request("GET", "https://iam.amazonaws.com/?Action=ListUsers")
    >>> signed = sign_request(
    ...     request,
    ...     access_key_id="AKIDEXAMPLE",
    ...     secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    ...     region="us-east-1",
    ...     service="iam",
    ...     timestamp=datetime(2015, 8, 30, 12, 36, tzinfo=timezone.utc),
    ... )
    >>> request.headers["X-Amz-Date"]
    '20150830T123600Z'
    >>> signed.credential_scope
    '20150830/us-east-1/iam/aws4_request'
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import re
from collections.abc import Iterable, MutableMapping
from datetime import UTC, datetime
from typing import Final
from urllib.parse import SplitResult, quote, unquote_to_bytes, urlsplit, urlunsplit

from attrs import frozen
from authplug.errors import FlowError
from authplug.http import Request

__all__ = [
    "ALGORITHM",
    "MAX_EXPIRES",
    "S3_SERVICES",
    "UNSIGNED_HEADERS",
    "UNSIGNED_PAYLOAD",
    "Placement",
    "SigV4Signature",
    "SigningError",
    "canonical_query_string",
    "canonical_uri",
    "derive_signing_key",
    "sign_request",
]

logger = logging.getLogger(__name__)

ALGORITHM: Final = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD: Final = "UNSIGNED-PAYLOAD"
# AWS refuses presigned URLs that claim to live longer than seven days.
MAX_EXPIRES: Final = 7 * 24 * 60 * 60

# Signing names of the services that follow S3's rules: the path is
# encoded once and not normalized, and X-Amz-Content-SHA256 is required.
S3_SERVICES: Final = frozenset({"s3", "s3-object-lambda", "s3-outposts"})

_AMZ_DATE_FORMAT: Final = "%Y%m%dT%H%M%SZ"
_TERMINATOR: Final = "aws4_request"
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}

_AUTHORIZATION: Final = "Authorization"
_AMZ_DATE: Final = "X-Amz-Date"
_AMZ_SECURITY_TOKEN: Final = "X-Amz-Security-Token"
_AMZ_CONTENT_SHA256: Final = "X-Amz-Content-SHA256"

_SIGNER_HEADERS: Final = frozenset(
    name.lower()
    for name in (_AUTHORIZATION, _AMZ_DATE, _AMZ_SECURITY_TOKEN, _AMZ_CONTENT_SHA256)
)
_SIGNER_PARAMS: Final = frozenset(
    {
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
    }
)

# Headers left out of the signature: hop-by-hop headers that proxies may
# drop or rewrite, and headers that clients, proxies and tracing systems
# commonly change on the way, any of which would break a valid signature.
UNSIGNED_HEADERS: Final = frozenset(
    {
        "authorization",
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)

# What RFC 3986 allows raw in a path besides letters, digits and "-._~";
# "%" stays because existing escapes are kept as they are.
_PATH_WIRE_SAFE: Final = "/%!$&'()*+,;=:@"
_LONE_PERCENT: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")


class Placement(enum.Enum):
    """Where the signature goes."""

    HEADER = "header"
    """In the ``Authorization`` header, for a request sent right away."""

    QUERY = "query"
    """In the query string, as a presigned URL that expires."""


class SigningError(FlowError, ValueError):
    """A request or a signing input that cannot be signed."""


@frozen(slots=True)
class SigV4Signature:
    """What a signing produced, free of any secret.

    Args:
        signature: The signature, lower-case hex.
        amz_date: The signing time, as in ``X-Amz-Date``.
        credential_scope: ``date/region/service/aws4_request``.
        signed_headers: The signed header names, lower case and sorted.
        payload_hash: The payload hash that was signed, or
            ``UNSIGNED-PAYLOAD``.
    """

    signature: str
    amz_date: str
    credential_scope: str
    signed_headers: tuple[str, ...]
    payload_hash: str


def sign_request(
    request: Request,
    *,
    access_key_id: str,
    secret_access_key: str,
    region: str,
    service: str,
    timestamp: datetime,
    session_token: str | None = None,
    placement: Placement = Placement.HEADER,
    expires: int = 3600,
    unsigned_payload: bool = False,
    s3_rules: bool | None = None,
) -> SigV4Signature:
    """Sign ``request`` in place with AWS Signature Version 4.

    Args:
        request: The request to sign; its URL and headers are changed.
        access_key_id: The AWS access key id.
        secret_access_key: The secret access key; it never leaves this call.
        region: The region to sign for, e.g. ``us-east-1``.
        service: The service's signing name, e.g. ``s3`` or ``execute-api``.
        timestamp: The signing time, timezone-aware.
        session_token: The session token of temporary credentials, if any.
        placement: Put the signature in the headers or the query string.
        expires: Seconds a presigned URL stays valid, 1 to 604800; only
            used with ``Placement.QUERY``.
        unsigned_payload: Sign ``UNSIGNED-PAYLOAD`` instead of the body's
            hash, as S3 allows; presigned S3 URLs always do.
        s3_rules: Follow S3's rules (path encoded once and not normalized,
            ``X-Amz-Content-SHA256`` always sent). None decides by the
            service name, see :data:`S3_SERVICES`.

    Returns:
        The signature and what went into it, with no secret in it.

    Raises:
        SigningError: If an input is unusable, such as a naive timestamp,
            an empty region or a URL that is not http or https.
    """
    _check_inputs(access_key_id, region, service, timestamp, placement, expires)
    if s3_rules is None:
        s3_rules = service in S3_SERVICES

    parts, host = _split_url(request.url)
    amz_date = timestamp.astimezone(UTC).strftime(_AMZ_DATE_FORMAT)
    scope = "/".join((amz_date[:8], region, service, _TERMINATOR))
    credential = f"{access_key_id}/{scope}"
    payload_hash = _payload_hash(request, placement, unsigned_payload, s3_rules)

    # Drop what an earlier signing added, so signing again replaces it.
    _remove_headers(request.headers, _SIGNER_HEADERS)
    query_params = _operation_params(parts.query)

    if placement is Placement.HEADER:
        request.headers[_AMZ_DATE] = amz_date
        if session_token is not None:
            request.headers[_AMZ_SECURITY_TOKEN] = session_token
        if s3_rules or unsigned_payload:
            request.headers[_AMZ_CONTENT_SHA256] = payload_hash
    headers = _headers_to_sign(request, host)
    signed_headers = tuple(sorted(headers))
    if placement is Placement.QUERY:
        query_params += _presign_params(
            credential, amz_date, expires, signed_headers, session_token
        )

    canonical_request = "\n".join(
        (
            request.method.upper(),
            canonical_uri(parts.path, s3_rules=s3_rules),
            _join_sorted(query_params),
            _canonical_headers(headers),
            ";".join(signed_headers),
            payload_hash,
        )
    )
    key = derive_signing_key(secret_access_key, amz_date[:8], region, service)
    signature = _signature(key, amz_date, scope, canonical_request)

    if placement is Placement.HEADER:
        request.headers[_AUTHORIZATION] = (
            f"{ALGORITHM} Credential={credential}, "
            f"SignedHeaders={';'.join(signed_headers)}, Signature={signature}"
        )
    else:
        query_params.append(("X-Amz-Signature", signature))
    request.url = _rebuild_url(parts, query_params, s3_rules=s3_rules)

    # The canonical request can hold the session token, so it stays unlogged.
    logger.debug(
        "signed %s request for %s in %s, headers %s",
        placement.value,
        service,
        region,
        ";".join(signed_headers),
    )
    return SigV4Signature(
        signature=signature,
        amz_date=amz_date,
        credential_scope=scope,
        signed_headers=signed_headers,
        payload_hash=payload_hash,
    )


def derive_signing_key(
    secret_access_key: str, date: str, region: str, service: str
) -> bytes:
    """Return the key that signs requests for one day, region and service.

    Args:
        secret_access_key: The secret access key.
        date: The signing date, ``YYYYMMDD``.
        region: The region.
        service: The service's signing name.
    """
    key = f"AWS4{secret_access_key}".encode()
    for step in (date, region, service, _TERMINATOR):
        key = hmac.new(key, step.encode(), hashlib.sha256).digest()
    return key


def canonical_uri(path: str, *, s3_rules: bool) -> str:
    """Return the canonical URI of a path as it appears on the wire.

    Most services take the path with its dot segments and repeated slashes
    removed and percent-encode it once more, so ``%20`` becomes ``%2520``.
    S3 encodes the object key just once: the path is decoded (a raw ``+``
    is a space to S3) and encoded again in AWS's strict form, with ``/``
    left as it is.

    Args:
        path: The URL path, percent-encoded as sent.
        s3_rules: Apply S3's rules instead of the general ones.
    """
    wire_path = _wire_path(path)
    if s3_rules:
        return quote(unquote_to_bytes(wire_path.replace("+", " ")), safe="/")
    return quote(_remove_dot_segments(wire_path), safe="/")


def canonical_query_string(query: str) -> str:
    """Return the canonical form of a raw query string.

    Each name and value is decoded (a ``+`` counts as a space) and encoded
    again in AWS's strict form; the pairs are sorted by name, then value.

    Args:
        query: The query string, without the leading ``?``.
    """
    return _join_sorted(_parse_query(query))


def _check_inputs(
    access_key_id: str,
    region: str,
    service: str,
    timestamp: datetime,
    placement: Placement,
    expires: int,
) -> None:
    problems = []
    for label, value in (
        ("access key id", access_key_id),
        ("region", region),
        ("service", service),
    ):
        if not value or "/" in value or value != value.strip():
            problems.append(
                f"the {label} must be a non-empty string with no '/' and no "
                f"surrounding spaces, got {value!r}"
            )
    if timestamp.utcoffset() is None:
        problems.append(
            "the timestamp must be timezone-aware; pass e.g. datetime.now(timezone.utc)"
        )
    if placement is Placement.QUERY and not 1 <= expires <= MAX_EXPIRES:
        problems.append(
            f"expires must be between 1 and {MAX_EXPIRES} seconds, got {expires!r}"
        )
    if problems:
        raise SigningError("cannot sign the request: " + "; ".join(problems))


def _split_url(url: str) -> tuple[SplitResult, str]:
    """Return the parts of ``url`` and the Host value a client derives."""
    try:
        parts = urlsplit(url)
        host = _host_from_url(parts)
    except ValueError as err:
        raise SigningError(f"cannot sign a request to a malformed URL: {err}") from err

    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise SigningError(
            "cannot sign a request whose URL is not an absolute http or https "
            f"URL with a host, got scheme {parts.scheme!r}"
        )
    return parts, host


def _payload_hash(
    request: Request, placement: Placement, unsigned_payload: bool, s3_rules: bool
) -> str:
    # A presigned S3 URL is made before anyone knows the body it will carry.
    if unsigned_payload or (placement is Placement.QUERY and s3_rules):
        return UNSIGNED_PAYLOAD
    return _sha256_hex(request.content)


def _operation_params(query: str) -> list[tuple[str, str]]:
    """Return the query's own parameters, without earlier presigning ones."""
    return [
        (name, value)
        for name, value in _parse_query(query)
        if _decoded_name(name) not in _SIGNER_PARAMS
    ]


def _presign_params(
    credential: str,
    amz_date: str,
    expires: int,
    signed_headers: tuple[str, ...],
    session_token: str | None,
) -> list[tuple[str, str]]:
    """Return the encoded presigning parameters, in AWS's documented order."""
    params = [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", credential),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", ";".join(signed_headers)),
    ]
    if session_token is not None:
        params.append(("X-Amz-Security-Token", session_token))
    return [_encode_pair(name, value) for name, value in params]


def _signature(key: bytes, amz_date: str, scope: str, canonical_request: str) -> str:
    digest = _sha256_hex(canonical_request.encode())
    string_to_sign = "\n".join((ALGORITHM, amz_date, scope, digest))
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _remove_headers(headers: MutableMapping[str, str], lowered: frozenset[str]) -> None:
    stale = [name for name in headers if name.lower() in lowered]
    for name in stale:
        # A case-insensitive mapping may already have dropped this spelling.
        headers.pop(name, None)


def _header_items(headers: MutableMapping[str, str]) -> Iterable[tuple[str, str]]:
    # httpx-style headers join repeated fields with ", " in items(); the
    # server sees separate lines and joins them with ",", so read each line.
    multi_items = getattr(headers, "multi_items", None)
    if callable(multi_items):
        items: Iterable[tuple[str, str]] = multi_items()
        return items
    return headers.items()


def _headers_to_sign(request: Request, host: str) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in _header_items(request.headers):
        lowered = name.lower()
        if lowered not in UNSIGNED_HEADERS:
            headers.setdefault(lowered, []).append(value)

    # Clients send Host from the URL when the request does not set it.
    if "host" not in headers:
        headers["host"] = [host]
    return headers


def _host_from_url(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{port}"
    return host


def _canonical_headers(headers: dict[str, list[str]]) -> str:
    lines = []
    for name in sorted(headers):
        # Trim each value and squeeze inner runs of whitespace to one space.
        values = ",".join(" ".join(value.split()) for value in headers[name])
        lines.append(f"{name}:{values}\n")
    return "".join(lines)


def _wire_path(path: str) -> str:
    if not path:
        return "/"
    return quote(_LONE_PERCENT.sub("%25", path), safe=_PATH_WIRE_SAFE)


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 dot-segment removal; AWS also folds repeated slashes.
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)

    leading = "/" if path.startswith("/") else ""
    trailing = "/" if path.endswith("/") and kept else ""
    return leading + "/".join(kept) + trailing


def _parse_query(query: str) -> list[tuple[str, str]]:
    """Split a raw query into pairs, each already in AWS's strict encoding."""
    pairs = []
    for field in query.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        pairs.append((_reencode(name), _reencode(value)))
    return pairs


def _reencode(component: str) -> str:
    # Bytes all the way, so an escape that is not UTF-8 survives unchanged.
    return quote(unquote_to_bytes(component.replace("+", " ")), safe="")


def _decoded_name(encoded: str) -> str:
    return unquote_to_bytes(encoded).decode("utf-8", "replace")


def _encode_pair(name: str, value: str) -> tuple[str, str]:
    return quote(name, safe=""), quote(value, safe="")


def _join_sorted(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _rebuild_url(
    parts: SplitResult, pairs: list[tuple[str, str]], *, s3_rules: bool
) -> str:
    # S3 decodes the path to a key and signs the key's strict encoding, so
    # sending that encoding leaves nothing to interpret differently.
    if s3_rules:
        path = canonical_uri(parts.path, s3_rules=True)
    else:
        path = _wire_path(parts.path)
    query = "&".join(f"{name}={value}" for name, value in pairs)
    return urlunsplit(parts._replace(path=path, query=query))
