"""The SigV4 signer, checked byte for byte against botocore's signers.

botocore is the reference: for each generated request both sign it with
the same credentials and the same frozen clock, and the Authorization
header (or the whole presigned URL) must come out identical.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from unittest import mock
from urllib.parse import quote, quote_plus, unquote_to_bytes, urlsplit, urlunsplit

import httpx2
import pytest
from authplug.errors import FlowError
from authplug.http import Request
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode_sequence
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from authplug_aws_sigv4.signing import (
    MAX_EXPIRES,
    UNSIGNED_PAYLOAD,
    Placement,
    SigningError,
    canonical_query_string,
    canonical_uri,
    derive_signing_key,
    sign_request,
)

# Strategies

METHODS = st.sampled_from(
    ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "PROPFIND"]
)

# Characters that make encoding interesting: reserved, unsafe, escapes,
# whitespace, non-ASCII (two-, three- and four-byte UTF-8).
_AWKWARD = " !\"#$%&'()*+,/:;<=>?@[\\]^`{|}~-._" + "éß€😀\u00a0"
_TEXT_ALPHABET = st.sampled_from(string.ascii_letters + string.digits + _AWKWARD)
TEXT = st.text(_TEXT_ALPHABET, max_size=12)

# RFC 3986 pchar without percent: what may stand raw in a path segment.
_PCHAR_SAFE = "!$&'()*+,;=:@"

_SCHEMES = st.sampled_from(["http", "https"])
_HOSTS = st.sampled_from(
    [
        "example.amazonaws.com",
        "Bucket.S3.US-West-2.AmazonAWS.com",
        "localhost",
        "127.0.0.1",
        "[::1]",
    ]
)
_PORTS = st.sampled_from(["", ":80", ":443", ":8443"])


@st.composite
def origins(draw: st.DrawFn) -> str:
    """Draw ``scheme://host[:port]``."""
    return f"{draw(_SCHEMES)}://{draw(_HOSTS)}{draw(_PORTS)}"


def _path_from(segments: list[str], trailing_slash: bool, safe: str) -> str:
    path = "/" + "/".join(quote(segment, safe=safe) for segment in segments)
    if trailing_slash and segments:
        path += "/"
    return path


_SEGMENT_TEXT = st.text(_TEXT_ALPHABET.filter(lambda c: c != "/"), max_size=8)
_SEGMENTS = st.lists(
    st.one_of(_SEGMENT_TEXT, st.sampled_from([".", "..", ""])), max_size=5
)


@st.composite
def raw_paths(draw: st.DrawFn) -> str:
    """Draw a path as a careless caller writes it, short of "?" and "#"."""
    segment = st.text(_TEXT_ALPHABET.filter(lambda c: c not in "?#"), max_size=12)
    return "/" + "/".join(draw(st.lists(segment, max_size=4)))


@st.composite
def wire_paths(draw: st.DrawFn) -> str:
    """Draw a path in valid wire form, sub-delimiters left raw."""
    return _path_from(draw(_SEGMENTS), draw(st.booleans()), _PCHAR_SAFE)


@st.composite
def strict_paths(draw: st.DrawFn) -> str:
    """Draw a path as an AWS SDK encodes an S3 key: only unreserved bare."""
    return _path_from(draw(_SEGMENTS), draw(st.booleans()), "")


_PARAM_NAMES = st.one_of(
    st.sampled_from(["a", "A", "b", "list-type", "prefix", "x y", "k+", "é"]),
    TEXT,
).filter(lambda name: not name.lower().startswith("x-amz-"))
QUERY_PAIRS = st.lists(st.tuples(_PARAM_NAMES, TEXT), max_size=6)
UNIQUE_QUERY_PAIRS = st.lists(
    st.tuples(_PARAM_NAMES, TEXT), max_size=6, unique_by=lambda pair: pair[0]
).filter(lambda pairs: all(name for name, _ in pairs))


@st.composite
def encoded_queries(draw: st.DrawFn, pairs: list[tuple[str, str]]) -> str:
    """Encode ``pairs`` the way a form does ("+") or a URI does ("%20")."""
    quoter = draw(st.sampled_from([quote_plus, quote]))
    return "&".join(
        f"{quoter(name, safe='')}={quoter(value, safe='')}" for name, value in pairs
    )


_TCHARS = "!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits
_HEADER_NAMES = st.one_of(
    st.sampled_from(
        [
            "Content-Type",
            "content-type",
            "X-Custom",
            "x-custom",
            "X-CUSTOM",
            "Accept",
            "Content-Length",
            "Host",
            "User-Agent",
            "Connection",
            "Expect",
            "X-Amz-Meta-Note",
            "X-Amz-Target",
        ]
    ),
    st.text(st.sampled_from(_TCHARS), min_size=1, max_size=10),
).filter(
    lambda name: (
        name.lower()
        not in {
            "date",
            "authorization",
            "x-amz-date",
            "x-amz-security-token",
            "x-amz-content-sha256",
        }
    )
)
_HEADER_VALUES = st.text(
    st.sampled_from(string.ascii_letters + string.digits + " \t,;=/:-_\"'()"),
    max_size=16,
)
HEADERS = st.dictionaries(_HEADER_NAMES, _HEADER_VALUES, max_size=6)

BODIES = st.binary(max_size=256)
ACCESS_KEY_IDS = st.text(
    st.sampled_from(string.ascii_uppercase + string.digits), min_size=16, max_size=20
)
SECRET_KEYS = st.text(
    st.sampled_from(string.ascii_letters + string.digits + "+/="),
    min_size=40,
    max_size=40,
)
SESSION_TOKENS = st.none() | st.text(
    st.sampled_from(string.ascii_letters + string.digits + "+/="),
    min_size=1,
    max_size=60,
)
REGIONS = st.sampled_from(["us-east-1", "eu-west-3", "ap-southeast-2", "cn-north-1"])
SERVICES = st.sampled_from(["execute-api", "iam", "sqs", "dynamodb", "es", "lambda"])
TIMESTAMPS = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2099, 12, 31),
    timezones=st.just(UTC),
).map(lambda moment: moment.replace(microsecond=0))
EXPIRES = st.integers(min_value=1, max_value=MAX_EXPIRES)


# The example credentials AWS uses throughout its SigV4 documentation.
DOC_KEY_ID = "AKIDEXAMPLE"
DOC_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
S3_DOC_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
S3_DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@contextmanager
def frozen_botocore_clock(moment: datetime) -> Iterator[None]:
    """Make botocore sign at ``moment``; it reads naive UTC time."""
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=naive):
        yield


def botocore_signed(
    signer: SigV4Auth,
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes = b"",
    params: list[tuple[str, str]] | None = None,
    moment: datetime,
    unsigned_payload: bool = False,
    s3: bool = False,
) -> AWSRequest:
    """Return an AWSRequest signed by ``signer`` at ``moment``."""
    request = AWSRequest(
        method=method, url=url, headers=dict(headers), data=body, params=params
    )
    if unsigned_payload:
        request.context["payload_signing_enabled"] = False
    if s3:
        s3_config = {"payload_signing_enabled": not unsigned_payload}
        request.context["client_config"] = SimpleNamespace(s3=s3_config)

    with frozen_botocore_clock(moment):
        signer.add_auth(request)
    return request


def without_query(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(query=""))


def lowered_items(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    return sorted((name.lower(), value) for name, value in headers.items())


def s3_key(path: str) -> bytes:
    """Return the key S3 reads from a path: "+" is a space there."""
    return unquote_to_bytes(path.replace("+", " "))


def join_url(origin: str, path: str, query: str) -> str:
    return f"{origin}{path}?{query}" if query else f"{origin}{path}"


# Byte for byte against botocore

# These comparisons are the heart of the suite: they get at least 200
# examples whatever the profile, and more under a thorough one.
against_botocore = settings(max_examples=max(settings().max_examples, 200))


@against_botocore
@given(
    method=METHODS,
    origin=origins(),
    path=raw_paths(),
    pairs=QUERY_PAIRS,
    headers=HEADERS,
    body=BODIES,
    access_key_id=ACCESS_KEY_IDS,
    secret=SECRET_KEYS,
    token=SESSION_TOKENS,
    region=REGIONS,
    service=SERVICES,
    moment=TIMESTAMPS,
    unsigned_payload=st.booleans(),
    data=st.data(),
)
def test_header_signature_matches_botocore(
    method: str,
    origin: str,
    path: str,
    pairs: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    access_key_id: str,
    secret: str,
    token: str | None,
    region: str,
    service: str,
    moment: datetime,
    unsigned_payload: bool,
    data: st.DataObject,
) -> None:
    url = join_url(origin, path, data.draw(encoded_queries(pairs)))
    request = Request(method, url, headers=dict(headers), content=body)

    sign_request(
        request,
        access_key_id=access_key_id,
        secret_access_key=secret,
        session_token=token,
        region=region,
        service=service,
        timestamp=moment,
        unsigned_payload=unsigned_payload,
    )

    # botocore encodes the decoded parameters itself, so the query string
    # we rewrote is checked separately against its encoding.
    reference = botocore_signed(
        SigV4Auth(Credentials(access_key_id, secret, token), service, region),
        method=method,
        url=without_query(request.url),
        headers=headers,
        body=body,
        params=pairs,
        moment=moment,
        unsigned_payload=unsigned_payload,
    )
    assert request.header("Authorization") == reference.headers["Authorization"]
    assert lowered_items(request.headers) == lowered_items(reference.headers)
    assert urlsplit(request.url).query == percent_encode_sequence(pairs)


@against_botocore
@given(
    method=METHODS,
    origin=origins(),
    path=st.one_of(strict_paths(), raw_paths()),
    pairs=QUERY_PAIRS,
    headers=HEADERS,
    body=BODIES,
    access_key_id=ACCESS_KEY_IDS,
    secret=SECRET_KEYS,
    token=SESSION_TOKENS,
    region=REGIONS,
    moment=TIMESTAMPS,
    unsigned_payload=st.booleans(),
    data=st.data(),
)
def test_s3_header_signature_matches_botocore(
    method: str,
    origin: str,
    path: str,
    pairs: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    access_key_id: str,
    secret: str,
    token: str | None,
    region: str,
    moment: datetime,
    unsigned_payload: bool,
    data: st.DataObject,
) -> None:
    url = join_url(origin, path, data.draw(encoded_queries(pairs)))
    request = Request(method, url, headers=dict(headers), content=body)

    sign_request(
        request,
        access_key_id=access_key_id,
        secret_access_key=secret,
        session_token=token,
        region=region,
        service="s3",
        timestamp=moment,
        unsigned_payload=unsigned_payload,
    )

    # botocore signs an S3 path as it stands, so it gets the path as sent.
    reference = botocore_signed(
        S3SigV4Auth(Credentials(access_key_id, secret, token), "s3", region),
        method=method,
        url=without_query(request.url),
        headers=headers,
        body=body,
        params=pairs,
        moment=moment,
        unsigned_payload=unsigned_payload,
        s3=True,
    )
    assert request.header("Authorization") == reference.headers["Authorization"]
    assert lowered_items(request.headers) == lowered_items(reference.headers)
    assert s3_key(urlsplit(request.url).path) == s3_key(path)


@against_botocore
@given(
    method=METHODS,
    origin=origins(),
    path=wire_paths(),
    pairs=UNIQUE_QUERY_PAIRS,
    headers=HEADERS,
    access_key_id=ACCESS_KEY_IDS,
    secret=SECRET_KEYS,
    token=SESSION_TOKENS,
    region=REGIONS,
    service=SERVICES,
    moment=TIMESTAMPS,
    expires=EXPIRES,
    unsigned_payload=st.booleans(),
    data=st.data(),
)
def test_presigned_url_matches_botocore(
    method: str,
    origin: str,
    path: str,
    pairs: list[tuple[str, str]],
    headers: dict[str, str],
    access_key_id: str,
    secret: str,
    token: str | None,
    region: str,
    service: str,
    moment: datetime,
    expires: int,
    unsigned_payload: bool,
    data: st.DataObject,
) -> None:
    # botocore keeps one value per name when presigning, so names are
    # unique; and it insists on hashing the payload over plain http.
    assume(origin.startswith("https:") or not unsigned_payload)
    url = join_url(origin, path, data.draw(encoded_queries(pairs)))
    request = Request(method, url, headers=dict(headers))

    sign_request(
        request,
        access_key_id=access_key_id,
        secret_access_key=secret,
        session_token=token,
        region=region,
        service=service,
        timestamp=moment,
        placement=Placement.QUERY,
        expires=expires,
        unsigned_payload=unsigned_payload,
    )

    credentials = Credentials(access_key_id, secret, token)
    reference = botocore_signed(
        SigV4QueryAuth(credentials, service, region, expires=expires),
        method=method,
        url=url,
        headers=headers,
        moment=moment,
        unsigned_payload=unsigned_payload,
    )
    assert request.url == reference.url
    assert lowered_items(request.headers) == lowered_items(headers)


@against_botocore
@given(
    method=METHODS,
    origin=origins(),
    path=st.one_of(strict_paths(), raw_paths()),
    pairs=UNIQUE_QUERY_PAIRS,
    headers=HEADERS,
    access_key_id=ACCESS_KEY_IDS,
    secret=SECRET_KEYS,
    token=SESSION_TOKENS,
    region=REGIONS,
    moment=TIMESTAMPS,
    expires=EXPIRES,
    data=st.data(),
)
def test_s3_presigned_url_matches_botocore(
    method: str,
    origin: str,
    path: str,
    pairs: list[tuple[str, str]],
    headers: dict[str, str],
    access_key_id: str,
    secret: str,
    token: str | None,
    region: str,
    moment: datetime,
    expires: int,
    data: st.DataObject,
) -> None:
    query = data.draw(encoded_queries(pairs))
    request = Request(method, join_url(origin, path, query), headers=dict(headers))

    sign_request(
        request,
        access_key_id=access_key_id,
        secret_access_key=secret,
        session_token=token,
        region=region,
        service="s3",
        timestamp=moment,
        placement=Placement.QUERY,
        expires=expires,
    )

    credentials = Credentials(access_key_id, secret, token)
    sent_path = urlsplit(request.url).path
    reference = botocore_signed(
        S3SigV4QueryAuth(credentials, "s3", region, expires=expires),
        method=method,
        url=join_url(origin, sent_path, query),
        headers=headers,
        moment=moment,
    )
    assert request.url == reference.url


# Signing again


SIGNING_INPUTS = st.fixed_dictionaries(
    {
        "access_key_id": ACCESS_KEY_IDS,
        "secret_access_key": SECRET_KEYS,
        "session_token": SESSION_TOKENS,
        "region": REGIONS,
        "service": st.sampled_from(["s3", "execute-api"]),
        "timestamp": TIMESTAMPS,
        "placement": st.sampled_from(Placement),
        "expires": EXPIRES,
        "unsigned_payload": st.booleans(),
    }
)


@given(
    origin=origins(),
    path=wire_paths(),
    pairs=QUERY_PAIRS,
    headers=HEADERS,
    body=BODIES,
    first=SIGNING_INPUTS,
    second=SIGNING_INPUTS,
    data=st.data(),
)
def test_signing_again_replaces_the_earlier_signature(
    origin: str,
    path: str,
    pairs: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    first: dict[str, object],
    second: dict[str, object],
    data: st.DataObject,
) -> None:
    # An S3 signing spells the path strictly, so both use the same rules.
    second = {**second, "service": first["service"]}
    url = join_url(origin, path, data.draw(encoded_queries(pairs)))
    twice = Request("PUT", url, headers=dict(headers), content=body)
    once = Request("PUT", url, headers=dict(headers), content=body)

    sign_request(twice, **first)  # type: ignore[arg-type]
    sign_request(twice, **second)  # type: ignore[arg-type]
    sign_request(once, **second)  # type: ignore[arg-type]

    assert twice.url == once.url
    assert lowered_items(twice.headers) == lowered_items(once.headers)


def test_signing_a_case_insensitive_mapping_twice_keeps_one_of_each() -> None:
    headers = httpx2.Headers({"Host": "example.amazonaws.com"})
    request = Request("GET", "https://example.amazonaws.com/", headers=headers)
    moment = datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)

    for offset in range(2):
        sign_request(
            request,
            access_key_id=DOC_KEY_ID,
            secret_access_key=DOC_SECRET,
            session_token="token",
            region="us-east-1",
            service="s3",
            timestamp=moment + timedelta(seconds=offset),
        )

    names = [name for name, _ in headers.multi_items()]
    assert sorted(names) == sorted(set(names))
    assert headers["x-amz-date"] == "20240301T000000Z"


# Documented examples


def test_matches_the_documented_iam_example() -> None:
    request = Request(
        "GET",
        "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )

    signed = sign_request(
        request,
        access_key_id=DOC_KEY_ID,
        secret_access_key=DOC_SECRET,
        region="us-east-1",
        service="iam",
        timestamp=datetime(2015, 8, 30, 12, 36, tzinfo=UTC),
    )

    assert signed.signature == (
        "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )
    assert request.headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/"
        "aws4_request, SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )


def test_derives_the_documented_signing_key() -> None:
    key = derive_signing_key(DOC_SECRET, "20150830", "us-east-1", "iam")

    assert key.hex() == (
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    )


def test_matches_the_documented_s3_presigned_url() -> None:
    request = Request("GET", "https://examplebucket.s3.amazonaws.com/test.txt")

    sign_request(
        request,
        access_key_id=S3_DOC_KEY_ID,
        secret_access_key=S3_DOC_SECRET,
        region="us-east-1",
        service="s3",
        timestamp=datetime(2013, 5, 24, tzinfo=UTC),
        placement=Placement.QUERY,
        expires=86400,
    )

    assert request.url == (
        "https://examplebucket.s3.amazonaws.com/test.txt"
        "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3"
        "%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
        "&X-Amz-SignedHeaders=host&X-Amz-Signature="
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )


def test_matches_the_documented_s3_ranged_get() -> None:
    request = Request(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        headers={"Range": "bytes=0-9"},
    )

    signed = sign_request(
        request,
        access_key_id=S3_DOC_KEY_ID,
        secret_access_key=S3_DOC_SECRET,
        region="us-east-1",
        service="s3",
        timestamp=datetime(2013, 5, 24, tzinfo=UTC),
    )

    assert signed.signed_headers == (
        "host",
        "range",
        "x-amz-content-sha256",
        "x-amz-date",
    )
    assert signed.signature == (
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


# Canonical forms


@pytest.mark.parametrize(
    ("path", "s3_rules", "expected"),
    [
        ("", False, "/"),
        ("/a/./b/../c//d/", False, "/a/c/d/"),
        ("/a/./b/../c//d/", True, "/a/./b/../c//d/"),
        ("/my%20file", False, "/my%2520file"),
        ("/my%20file", True, "/my%20file"),
        ("/my file+é", True, "/my%20file%20%C3%A9"),
        ("/a%2Bb+c", True, "/a%2Bb%20c"),
        ("/a+b", False, "/a%2Bb"),
        ("/%7eme/%7Eyou", True, "/~me/~you"),
        ("/%ff", True, "/%FF"),
        ("/100%", False, "/100%2525"),
        ("/..", False, "/"),
    ],
)
def test_canonical_uri(path: str, s3_rules: bool, expected: str) -> None:
    assert canonical_uri(path, s3_rules=s3_rules) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ""),
        ("b=2&a=1&a=0", "a=0&a=1&b=2"),
        ("q=a+b&r=a%20b", "q=a%20b&r=a%20b"),
        ("flag&x=", "flag=&x="),
        ("k=%7e%2a&=v&&", "=v&k=~%2A"),
        ("raw=%ff%fe", "raw=%FF%FE"),
        ("B=1&a=1&a-b=1&a=", "B=1&a=&a=1&a-b=1"),
    ],
)
def test_canonical_query_string(query: str, expected: str) -> None:
    assert canonical_query_string(query) == expected


def _no_dot_segments(path: str) -> bool:
    return not {".", ".."} & set(path.split("/"))


# httpx2 drops "." and ".." segments, which the signer leaves alone: it
# signs the path it is given, as clients that send paths verbatim need.
@given(path=raw_paths().filter(_no_dot_segments))
def test_rewritten_url_survives_httpx2_unchanged(path: str) -> None:
    request = Request("GET", f"https://example.com{path}?a=b+c")

    sign_request(
        request,
        access_key_id=DOC_KEY_ID,
        secret_access_key=DOC_SECRET,
        region="us-east-1",
        service="execute-api",
        timestamp=datetime(2024, 1, 1, tzinfo=UTC),
    )

    parts = urlsplit(request.url)
    sent = httpx2.URL(request.url).raw_path.decode("ascii")
    assert sent == f"{parts.path}?{parts.query}"


def test_repeated_header_lines_join_with_a_comma() -> None:
    lines = [("X-Multi", "one"), ("x-multi", "  two  three ")]
    request = Request("GET", "https://example.com/", headers=httpx2.Headers(lines))
    moment = datetime(2024, 1, 1, tzinfo=UTC)

    sign_request(
        request,
        access_key_id=DOC_KEY_ID,
        secret_access_key=DOC_SECRET,
        region="us-east-1",
        service="execute-api",
        timestamp=moment,
    )

    # A server sees two header lines; botocore's headers keep both too.
    received = AWSRequest(method="GET", url="https://example.com/")
    for name, value in lines:
        received.headers[name] = value
    signer = SigV4Auth(Credentials(DOC_KEY_ID, DOC_SECRET), "execute-api", "us-east-1")
    with frozen_botocore_clock(moment):
        signer.add_auth(received)
    assert request.headers["Authorization"] == received.headers["Authorization"]


# Inputs and options


def test_converts_an_aware_timestamp_to_utc() -> None:
    request = Request("GET", "https://example.com/")
    ahead = timezone(timedelta(hours=5, minutes=30))

    signed = sign_request(
        request,
        access_key_id=DOC_KEY_ID,
        secret_access_key=DOC_SECRET,
        region="us-east-1",
        service="execute-api",
        timestamp=datetime(2024, 1, 1, 3, 0, tzinfo=ahead),
    )

    assert signed.amz_date == "20231231T213000Z"
    assert signed.credential_scope.startswith("20231231/")


def test_keeps_and_signs_a_date_header() -> None:
    request = Request(
        "GET", "https://example.com/", headers={"Date": "Mon, 01 Jan 2024 00:00:00 GMT"}
    )

    signed = sign_request(
        request,
        access_key_id=DOC_KEY_ID,
        secret_access_key=DOC_SECRET,
        region="us-east-1",
        service="execute-api",
        timestamp=datetime(2024, 1, 1, tzinfo=UTC),
    )

    assert request.headers["Date"] == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert "date" in signed.signed_headers
    assert request.headers["X-Amz-Date"] == "20240101T000000Z"


def test_unsigned_payload_is_declared_in_a_header() -> None:
    request = Request("PUT", "https://bucket.s3.amazonaws.com/key", content=b"data")

    signed = sign_request(
        request,
        access_key_id=DOC_KEY_ID,
        secret_access_key=DOC_SECRET,
        region="us-east-1",
        service="s3",
        timestamp=datetime(2024, 1, 1, tzinfo=UTC),
        unsigned_payload=True,
    )

    assert signed.payload_hash == UNSIGNED_PAYLOAD
    assert request.headers["X-Amz-Content-SHA256"] == UNSIGNED_PAYLOAD


def test_s3_rules_can_be_forced_for_a_custom_signing_name() -> None:
    forced = Request("GET", "https://minio.local/bucket/a%20b")
    general = Request("GET", "https://minio.local/bucket/a%20b")
    options = {
        "access_key_id": DOC_KEY_ID,
        "secret_access_key": DOC_SECRET,
        "region": "us-east-1",
        "service": "storage",
        "timestamp": datetime(2024, 1, 1, tzinfo=UTC),
    }

    sign_request(forced, s3_rules=True, **options)  # type: ignore[arg-type]
    sign_request(general, **options)  # type: ignore[arg-type]

    assert "X-Amz-Content-SHA256" in forced.headers
    assert "X-Amz-Content-SHA256" not in general.headers
    assert forced.headers["Authorization"] != general.headers["Authorization"]


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"timestamp": datetime(2024, 1, 1)}, "timezone-aware"),
        ({"region": ""}, "region"),
        ({"service": "s3/x"}, "service"),
        ({"access_key_id": " AKID"}, "access key id"),
        ({"placement": Placement.QUERY, "expires": 0}, "expires"),
        ({"placement": Placement.QUERY, "expires": 604801}, "expires"),
    ],
)
def test_rejects_unusable_inputs(changes: dict[str, object], fragment: str) -> None:
    request = Request("GET", "https://example.com/")
    options: dict[str, object] = {
        "access_key_id": DOC_KEY_ID,
        "secret_access_key": DOC_SECRET,
        "region": "us-east-1",
        "service": "execute-api",
        "timestamp": datetime(2024, 1, 1, tzinfo=UTC),
        **changes,
    }

    with pytest.raises(SigningError, match=fragment) as caught:
        sign_request(request, **options)  # type: ignore[arg-type]

    assert isinstance(caught.value, FlowError)
    assert DOC_SECRET not in str(caught.value)
    assert "Authorization" not in request.headers


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/", "/relative/path", "https:///no-host", "http://h:99999/"],
)
def test_rejects_urls_it_cannot_sign(url: str) -> None:
    request = Request("GET", url)

    with pytest.raises(SigningError, match="URL"):
        sign_request(
            request,
            access_key_id=DOC_KEY_ID,
            secret_access_key=DOC_SECRET,
            region="us-east-1",
            service="execute-api",
            timestamp=datetime(2024, 1, 1, tzinfo=UTC),
        )


def test_result_and_logs_hold_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    request = Request("GET", "https://example.com/")
    caplog.set_level("DEBUG", logger="authplug_aws_sigv4")

    signed = sign_request(
        request,
        access_key_id=DOC_KEY_ID,
        secret_access_key=DOC_SECRET,
        session_token="session-token-value",
        region="us-east-1",
        service="execute-api",
        timestamp=datetime(2024, 1, 1, tzinfo=UTC),
    )

    for text in (repr(signed), caplog.text):
        assert DOC_SECRET not in text
        assert "session-token-value" not in text
    assert caplog.records
