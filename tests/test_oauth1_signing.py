"""Tests for the OAuth1 signing core: RFC 5849 vectors, encoding, placements."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_to_bytes, urlsplit
from urllib.request import parse_http_list, parse_keqv_list

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import given
from hypothesis import strategies as st

from authplug.errors import AuthplugError, MissingDependency, TokenError
from authplug.http import Request, Response
from authplug.oauth1_signing import (
    FORM_CONTENT_TYPE,
    PLACEMENTS,
    SIGNATURE_METHODS,
    Placement,
    SignatureMethod,
    SigningError,
    TokenCredentials,
    authorization_url,
    base_string_uri,
    compute_signature,
    make_nonce,
    parse_temporary_credentials,
    parse_token_credentials,
    percent_encode,
    sign_request,
    signature_base_string,
    temporary_credentials_request,
    token_credentials_request,
)

VECTORS = json.loads(
    (Path(__file__).parent / "vectors" / "oauth1_rfc5849.json").read_text("utf-8")
)

CONSUMER_SECRET = "consumer-secret-value"
TOKEN_SECRET = "token-secret-value"
UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


@pytest.fixture(scope="module")
def rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def header_params(request: Request) -> dict[str, str]:
    """Parse the OAuth Authorization header the way a server does."""
    value = request.header("authorization")
    assert value is not None
    assert value.startswith("OAuth ")

    items = parse_keqv_list(parse_http_list(value[len("OAuth ") :]))
    return {name: unquote(item) for name, item in items.items()}


def oauth_params_in(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [pair for pair in pairs if pair[0].startswith("oauth_")]


def form_request(body: str, url: str = "https://api.example.com/items") -> Request:
    return Request(
        "POST",
        url,
        headers={"Content-Type": FORM_CONTENT_TYPE},
        content=body.encode("ascii"),
    )


def sign(request: Request, **overrides: Any) -> None:
    options: dict[str, Any] = {
        "consumer_key": "consumer-key",
        "consumer_secret": CONSUMER_SECRET,
        "token": "token-value",
        "token_secret": TOKEN_SECRET,
        "timestamp": 1_700_000_000,
        "nonce": "fixednonce",
    }
    options.update(overrides)
    sign_request(request, **options)


# -- RFC 5849 vectors -------------------------------------------------------


@pytest.mark.parametrize(
    "case", VECTORS["signatures"], ids=[c["name"] for c in VECTORS["signatures"]]
)
def test_rfc_signature_vectors(case: dict[str, Any]) -> None:
    request = Request(case["method"], case["url"])

    base_string = signature_base_string(request, case["oauth"])
    signature = compute_signature(
        base_string,
        signature_method="HMAC-SHA1",
        consumer_secret=case["consumer_secret"],
        token_secret=case["token_secret"],
    )

    if "base_string" in case:
        assert base_string == case["base_string"]
    assert signature == case["signature"]


@pytest.mark.parametrize(
    "case", VECTORS["signatures"], ids=[c["name"] for c in VECTORS["signatures"]]
)
def test_rfc_signature_vectors_through_sign_request(case: dict[str, Any]) -> None:
    oauth = case["oauth"]
    request = Request(case["method"], case["url"])

    sign_request(
        request,
        consumer_key=oauth["oauth_consumer_key"],
        consumer_secret=case["consumer_secret"],
        token=oauth.get("oauth_token"),
        token_secret=case["token_secret"],
        timestamp=int(oauth["oauth_timestamp"]),
        nonce=oauth["oauth_nonce"],
        callback=oauth.get("oauth_callback"),
        verifier=oauth.get("oauth_verifier"),
    )

    sent = header_params(request)
    assert sent["oauth_signature"] == case["signature"]
    assert {k: v for k, v in sent.items() if k != "oauth_signature"} == oauth


@pytest.mark.parametrize(
    "case", VECTORS["base_strings"], ids=[c["name"] for c in VECTORS["base_strings"]]
)
def test_rfc_base_string_vector(case: dict[str, Any]) -> None:
    request = Request(
        case["method"],
        case["url"],
        headers={"Content-Type": FORM_CONTENT_TYPE},
        content=case["form_body"].encode("ascii"),
    )

    assert signature_base_string(request, case["oauth"]) == case["base_string"]


@pytest.mark.parametrize("case", VECTORS["plaintext"])
def test_rfc_plaintext_vectors(case: dict[str, str]) -> None:
    signature = compute_signature(
        "ignored by PLAINTEXT",
        signature_method="PLAINTEXT",
        consumer_secret=case["consumer_secret"],
        token_secret=case["token_secret"],
    )

    assert signature == case["signature"]


def test_plaintext_signature_is_encoded_again_in_the_header() -> None:
    request = Request("GET", "https://api.example.com/")

    sign(
        request,
        signature_method="PLAINTEXT",
        consumer_secret="ja893SD9",
        token_secret="xyz4992k83j47x0b",
    )

    assert 'oauth_signature="ja893SD9%26xyz4992k83j47x0b"' in str(
        request.header("authorization")
    )


# -- percent-encoding (3.6) -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("AZaz09-._~", "AZaz09-._~"),
        (" ", "%20"),
        ("+", "%2B"),
        ("*", "%2A"),
        ("~", "~"),
        ("%", "%25"),
        ("/?#[]@!$&'()=:;,", "%2F%3F%23%5B%5D%40%21%24%26%27%28%29%3D%3A%3B%2C"),
        ("é", "%C3%A9"),
        ("€", "%E2%82%AC"),
        ("😀", "%F0%9F%98%80"),
        ("\n\x00", "%0A%00"),
        ("", ""),
        (b"\xff\x00a", "%FF%00a"),
    ],
)
def test_percent_encode_cases(raw: str | bytes, encoded: str) -> None:
    assert percent_encode(raw) == encoded


@given(st.text())
def test_percent_encode_keeps_only_unreserved_and_round_trips(text: str) -> None:
    encoded = percent_encode(text)

    bare = encoded.replace("%", "")
    assert set(bare) <= UNRESERVED
    assert unquote_to_bytes(encoded) == text.encode("utf-8")


@given(st.text())
def test_percent_encode_uses_upper_case_hex(text: str) -> None:
    encoded = percent_encode(text)

    escapes = encoded.split("%")[1:]
    assert all(escape[:2] == escape[:2].upper() for escape in escapes)


# -- base string URI (3.4.1.2) ----------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://EXAMPLE.COM:80/r%20v/X?id=123", "http://example.com/r%20v/X"),
        ("https://www.example.net:8080/?q=1", "https://www.example.net:8080/"),
        ("https://Example.com:443/a", "https://example.com/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),
        ("https://example.com", "https://example.com/"),
        ("https://user:pw@example.com/p#frag", "https://example.com/p"),
        ("http://[2001:DB8::1]:8080/x", "http://[2001:db8::1]:8080/x"),
        ("https://example.com/a b/é", "https://example.com/a%20b/%C3%A9"),
        ("https://example.com/Case/;p=1", "https://example.com/Case/;p=1"),
    ],
)
def test_base_string_uri(url: str, expected: str) -> None:
    assert base_string_uri(url) == expected


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("/relative/path", "relative"),
        ("ftp://example.com/file", "ftp"),
        ("https://example.com:99999/", "port"),
        ("https:///no-host", "no host"),
    ],
)
def test_base_string_uri_rejects_what_cannot_be_signed(
    url: str, complaint: str
) -> None:
    with pytest.raises(SigningError, match=complaint):
        base_string_uri(url)


# -- parameter normalisation (3.4.1.3) --------------------------------------


def normalized_part(request: Request, oauth: dict[str, str] | None = None) -> str:
    base_string = signature_base_string(request, oauth or {})
    return unquote(base_string.split("&")[2])


def test_duplicate_names_sort_by_value_after_encoding() -> None:
    request = Request("GET", "https://example.com/?b=2&a=z&a=%20&a=A&A=1")

    assert normalized_part(request) == "A=1&a=%20&a=A&a=z&b=2"


def test_form_body_counts_only_with_the_form_content_type() -> None:
    url = "https://example.com/?q=1"
    form = form_request("f=2", url)
    form.headers["Content-Type"] = "Application/X-WWW-Form-URLEncoded; charset=utf-8"
    json_body = Request(
        "POST", url, headers={"Content-Type": "application/json"}, content=b"f=2"
    )
    untyped = Request("POST", url, content=b"f=2")

    assert normalized_part(form) == "f=2&q=1"
    assert normalized_part(json_body) == "q=1"
    assert normalized_part(untyped) == "q=1"


def test_oauth_signature_is_never_signed_but_a_query_realm_is() -> None:
    request = Request("GET", "https://example.com/?oauth_signature=old&realm=r")

    part = normalized_part(request, {"oauth_nonce": "n", "realm": "header realm"})

    assert part == "oauth_nonce=n&realm=r"


def test_plus_in_a_query_is_a_space_and_escapes_are_normalised() -> None:
    request = Request("GET", "https://example.com/?a=x+y&b=%7e&c&d=%e2%82%ac")

    assert normalized_part(request) == "a=x%20y&b=~&c=&d=%E2%82%AC"


# -- sign_request: placements -----------------------------------------------


def test_header_placement_puts_realm_first_and_quotes_encoded_values() -> None:
    request = Request("GET", "https://api.example.com/photos?size=original")

    sign(request, realm="Photos", callback="https://app.example/cb?x=1 2")

    header = str(request.header("authorization"))
    assert header.startswith('OAuth realm="Photos", oauth_consumer_key="consumer-key"')
    assert 'oauth_callback="https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1%202"' in header
    assert request.url == "https://api.example.com/photos?size=original"
    assert request.content == b""


def test_query_placement_appends_to_the_query_and_keeps_its_spelling() -> None:
    url = "https://api.example.com/photos?b=x+y&a=%7e"
    request = Request("GET", url)

    sign(request, placement="query")

    query = urlsplit(request.url).query
    assert query.startswith("b=x+y&a=%7e&oauth_consumer_key=consumer-key&")
    names = [name for name, _ in parse_qsl(query)]
    assert names.count("oauth_signature") == 1
    assert request.header("authorization") is None


def test_body_placement_appends_to_the_form_and_fixes_content_length() -> None:
    request = form_request("title=Caf%C3%A9")
    request.headers["Content-Length"] = "15"

    sign(request, placement="body")

    body = request.content.decode("ascii")
    assert body.startswith("title=Caf%C3%A9&oauth_consumer_key=consumer-key&")
    assert request.headers["Content-Length"] == str(len(request.content))
    assert request.url == "https://api.example.com/items"
    assert request.header("authorization") is None


@pytest.mark.parametrize(
    "headers",
    [{"Content-Type": "application/json"}, {}],
    ids=["json", "no content type"],
)
def test_body_placement_needs_a_form_body(headers: dict[str, str]) -> None:
    request = Request("POST", "https://api.example.com/", headers=headers)

    with pytest.raises(SigningError, match="placement 'body' needs") as caught:
        sign(request, placement="body")

    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, AuthplugError)
    assert CONSUMER_SECRET not in str(caught.value)


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_each_placement_signs_the_same_base_string(placement: Placement) -> None:
    header_signed = form_request("a=1")
    placed = form_request("a=1")

    sign(header_signed)
    sign(placed, placement=placement)

    if placement == "header":
        found = header_params(placed)["oauth_signature"]
    elif placement == "query":
        found = dict(parse_qsl(urlsplit(placed.url).query))["oauth_signature"]
    else:
        found = dict(parse_qsl(placed.content.decode("ascii")))["oauth_signature"]
    assert found == header_params(header_signed)["oauth_signature"]


def test_optional_protocol_parameters() -> None:
    bare = Request("GET", "https://api.example.com/")
    full = Request("GET", "https://api.example.com/")

    sign(bare, token=None)
    sign(full, include_version=True, callback="oob", verifier="v3r")

    assert set(header_params(bare)) == {
        "oauth_consumer_key",
        "oauth_signature_method",
        "oauth_timestamp",
        "oauth_nonce",
        "oauth_signature",
    }
    sent = header_params(full)
    assert sent["oauth_version"] == "1.0"
    assert sent["oauth_callback"] == "oob"
    assert sent["oauth_verifier"] == "v3r"
    assert sent["oauth_token"] == "token-value"


def test_signing_again_replaces_parameters_in_every_place() -> None:
    request = form_request("a=1", "https://api.example.com/?q=2")
    sign(request, placement="query")
    sign(request, placement="body", nonce="second")

    sign(request, placement="header", nonce="third")

    assert request.url == "https://api.example.com/?q=2"
    assert request.content == b"a=1"
    assert header_params(request)["oauth_nonce"] == "third"


def test_header_placement_replaces_an_authorization_header_of_any_spelling() -> None:
    request = Request(
        "GET", "https://api.example.com/", headers={"authorization": "Basic abc"}
    )

    sign(request)

    assert list(request.headers) == ["Authorization"]


def test_query_placement_leaves_a_foreign_authorization_header_alone() -> None:
    request = Request(
        "GET", "https://api.example.com/", headers={"Authorization": "Basic abc"}
    )

    sign(request, placement="query")

    assert request.headers["Authorization"] == "Basic abc"


def test_extension_oauth_parameters_in_the_query_are_kept_and_signed() -> None:
    request = Request("GET", "https://api.example.com/?oauth_session_handle=h")

    sign(request)

    assert request.url.endswith("?oauth_session_handle=h")
    assert "oauth_session_handle=h" in normalized_part(request)


# -- sign_request: bad options ----------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"signature_method": "HMAC-MD5"}, "unknown OAuth1 signature method"),
        ({"placement": "cookie"}, "unknown OAuth1 placement 'cookie'"),
        ({"realm": "r", "placement": "query"}, "only sent in the Authorization"),
        ({"realm": "bad\r\nX-Injected: 1"}, "printable ASCII"),
        ({"timestamp": -1}, "must not be negative"),
        ({"timestamp": "1700000000"}, "int, got str"),
        ({"nonce": ""}, "nonce must not be empty"),
        ({"signature_method": "RSA-SHA1"}, "RSA private key"),
    ],
)
def test_bad_options_raise_a_clear_signing_error(
    overrides: dict[str, Any], complaint: str
) -> None:
    request = Request("GET", "https://api.example.com/")

    with pytest.raises(SigningError, match=complaint) as caught:
        sign(request, **overrides)

    assert CONSUMER_SECRET not in str(caught.value)
    assert TOKEN_SECRET not in str(caught.value)
    assert request.header("authorization") is None


def test_a_failed_signing_leaves_the_request_as_it_was() -> None:
    request = form_request("a=1", "https://api.example.com/?q=2")
    sign(request, placement="body")
    before = Request(
        request.method, request.url, dict(request.headers), request.content
    )

    with pytest.raises(SigningError, match="not a usable PEM"):
        sign(
            request,
            placement="query",
            signature_method="RSA-SHA1",
            rsa_private_key="not a key",
        )

    assert request == before


def test_unusual_query_spelling_survives_header_signing() -> None:
    url = "https://api.example.com/?a=1&&b=%7e+x&c"
    request = Request("GET", url)

    sign(request)

    assert request.url == url


def test_unknown_method_error_lists_the_choices() -> None:
    with pytest.raises(SigningError) as caught:
        sign(Request("GET", "https://x.example/"), signature_method="hmac-sha1")

    assert all(method in str(caught.value) for method in SIGNATURE_METHODS)


def test_a_realm_with_quotes_is_escaped() -> None:
    request = Request("GET", "https://api.example.com/")

    sign(request, realm='say "hi" \\ bye')

    assert str(request.header("authorization")).startswith(
        'OAuth realm="say \\"hi\\" \\\\ bye", '
    )


# -- RSA-SHA1 and HMAC-SHA256 -----------------------------------------------


def test_rsa_sha1_signature_verifies_with_the_public_key(rsa_pem: str) -> None:
    request = Request("GET", "https://api.example.com/?a=1")

    sign(request, signature_method="RSA-SHA1", rsa_private_key=rsa_pem)

    sent = header_params(request)
    oauth = {k: v for k, v in sent.items() if k != "oauth_signature"}
    base_string = signature_base_string(request, oauth)
    key = serialization.load_pem_private_key(rsa_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    key.public_key().verify(
        base64.b64decode(sent["oauth_signature"]),
        base_string.encode("ascii"),
        padding.PKCS1v15(),
        hashes.SHA1(),
    )


def test_hmac_sha256_differs_from_sha1_and_has_a_sha256_length() -> None:
    sha1 = compute_signature(
        "GET&x&y", signature_method="HMAC-SHA1", consumer_secret="s"
    )
    sha256 = compute_signature(
        "GET&x&y", signature_method="HMAC-SHA256", consumer_secret="s"
    )

    assert len(base64.b64decode(sha1)) == 20
    assert len(base64.b64decode(sha256)) == 32


def test_a_bad_pem_never_echoes_the_key() -> None:
    fake_pem = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n"

    with pytest.raises(SigningError, match="not a usable PEM") as caught:
        compute_signature(
            "GET&x&y",
            signature_method="RSA-SHA1",
            consumer_secret="",
            rsa_private_key=fake_pem,
        )

    assert "c2VjcmV0" not in str(caught.value)


def test_an_encrypted_or_non_rsa_key_is_refused(rsa_pem: str) -> None:
    key = serialization.load_pem_private_key(rsa_pem.encode(), password=None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    ).decode()
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )

    with pytest.raises(SigningError, match="unencrypted"):
        compute_signature(
            "b",
            signature_method="RSA-SHA1",
            consumer_secret="",
            rsa_private_key=encrypted,
        )
    with pytest.raises(SigningError, match="needs an RSA private key"):
        compute_signature(
            "b", signature_method="RSA-SHA1", consumer_secret="", rsa_private_key=ec_pem
        )


def test_rsa_without_cryptography_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, rsa_pem: str
) -> None:
    # A None entry in sys.modules makes the import fail as if not installed.
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives", None)

    with pytest.raises(MissingDependency, match=r"pip install 'authplug\[rsa\]'"):
        compute_signature(
            "b",
            signature_method="RSA-SHA1",
            consumer_secret="",
            rsa_private_key=rsa_pem,
        )


# -- properties -------------------------------------------------------------

param_text = st.text(st.characters(codec="utf-8"), max_size=12)
# Names that are not protocol parameters, which signing would replace.
param_name = param_text.filter(lambda name: not name.startswith("oauth_"))
query_pairs = st.lists(st.tuples(param_name, param_text), max_size=6)


def query_url(pairs: list[tuple[str, str]]) -> str:
    query = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in pairs)
    return (
        f"https://api.example.com/r?{query}" if query else "https://api.example.com/r"
    )


@given(
    pairs=query_pairs,
    method=st.sampled_from(SIGNATURE_METHODS),
    placement=st.sampled_from(PLACEMENTS),
    secret=param_text,
)
def test_signing_is_deterministic_for_a_fixed_clock_and_nonce(
    rsa_pem: str,
    pairs: list[tuple[str, str]],
    method: SignatureMethod,
    placement: Placement,
    secret: str,
) -> None:
    first = form_request("x=1", query_url(pairs))
    second = form_request("x=1", query_url(pairs))
    options = {
        "signature_method": method,
        "placement": placement,
        "consumer_secret": secret,
        "rsa_private_key": rsa_pem,
    }

    sign(first, **options)
    sign(second, **options)

    assert first == second


@given(pairs=query_pairs, placement=st.sampled_from(PLACEMENTS), nonce=param_text)
def test_signing_twice_does_not_duplicate_parameters(
    pairs: list[tuple[str, str]], placement: Placement, nonce: str
) -> None:
    once = form_request("x=1", query_url(pairs))
    twice = form_request("x=1", query_url(pairs))
    nonce = nonce or "n"

    sign(once, placement=placement, nonce=nonce)
    sign(twice, placement=placement, nonce="earlier")
    sign(twice, placement=placement, nonce=nonce)

    assert twice == once
    where = {
        "header": list(header_params(twice).items()) if placement == "header" else [],
        "query": parse_qsl(urlsplit(twice.url).query, keep_blank_values=True),
        "body": parse_qsl(twice.content.decode(), keep_blank_values=True),
    }
    oauth_names = [name for name, _ in oauth_params_in(where[placement])]
    assert len(oauth_names) == len(set(oauth_names)) >= 5


@given(pairs=query_pairs, data=st.data())
def test_query_order_does_not_change_the_signature(
    pairs: list[tuple[str, str]], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(pairs))
    original = Request("GET", query_url(pairs))
    reordered = Request("GET", query_url(shuffled))

    sign(original)
    sign(reordered)

    assert (
        header_params(original)["oauth_signature"]
        == header_params(reordered)["oauth_signature"]
    )


@given(pairs=query_pairs, extra=param_text)
def test_a_changed_parameter_changes_the_signature(
    pairs: list[tuple[str, str]], extra: str
) -> None:
    original = Request("GET", query_url(pairs))
    changed = Request("GET", query_url([*pairs, ("added", extra)]))

    sign(original)
    sign(changed)

    assert (
        header_params(original)["oauth_signature"]
        != header_params(changed)["oauth_signature"]
    )


# -- three-legged helpers ---------------------------------------------------


def test_make_nonce_is_fresh_hex_of_a_server_friendly_length() -> None:
    nonces = {make_nonce() for _ in range(50)}

    assert len(nonces) == 50
    assert all(len(n) == 24 and set(n) <= set("0123456789abcdef") for n in nonces)


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_temporary_credentials_request(placement: Placement) -> None:
    request = temporary_credentials_request(
        "https://photos.example.net/initiate",
        consumer_key="dpf43f3p2l4k3l03",
        consumer_secret="kd94hf93k423kf44",
        timestamp=137131200,
        nonce="wIjqoS",
        callback="http://printer.example.com/ready",
        placement=placement,
    )

    assert request.method == "POST"
    if placement == "header":
        sent = header_params(request)
    elif placement == "query":
        sent = dict(parse_qsl(urlsplit(request.url).query))
    else:
        assert request.header("content-type") == FORM_CONTENT_TYPE
        sent = dict(parse_qsl(request.content.decode()))
    # The RFC's own example (section 1.2), so its signature must match.
    assert sent["oauth_signature"] == "74KNZJeDHnMBp0EMJ9ZHt/XKycU="
    assert "oauth_token" not in sent


def test_token_credentials_request_matches_the_rfc_example() -> None:
    request = token_credentials_request(
        "https://photos.example.net/token",
        consumer_key="dpf43f3p2l4k3l03",
        consumer_secret="kd94hf93k423kf44",
        token="hh5s93j4hdidpola",
        token_secret="hdhd0244k9j7ao03",
        verifier="hfdp7dh39dks9884",
        timestamp=137131201,
        nonce="walatlh",
    )

    sent = header_params(request)
    assert sent["oauth_verifier"] == "hfdp7dh39dks9884"
    assert sent["oauth_signature"] == "gKgrFCywp7rO0OXSjdot/IHF7IU="


def test_authorization_url_adds_the_token_and_keeps_the_query() -> None:
    url = authorization_url(
        "https://photos.example.net/authorize?lang=en&oauth_token=stale",
        "hh5s93j4hdidpola",
        {"perms": "read write"},
    )

    assert url == (
        "https://photos.example.net/authorize?lang=en"
        "&oauth_token=hh5s93j4hdidpola&perms=read%20write"
    )


def form_response(
    body: str, status: int = 200, content_type: str = FORM_CONTENT_TYPE
) -> Response:
    return Response(
        status, headers={"content-type": content_type}, content=body.encode()
    )


def test_parse_temporary_credentials() -> None:
    response = form_response(
        "oauth_token=hh5s93j4hdidpola&oauth_token_secret=hdhd0244k9j7ao03"
        "&oauth_callback_confirmed=true\n"
    )

    credentials = parse_temporary_credentials(response)

    assert credentials.token.reveal() == "hh5s93j4hdidpola"
    assert credentials.token_secret.reveal() == "hdhd0244k9j7ao03"
    assert credentials.callback_confirmed is True
    assert credentials.extra == {}


def test_parse_token_credentials_keeps_extra_fields_out_of_the_repr() -> None:
    response = form_response(
        "oauth_token=nnch734d00sl2jdk&oauth_token_secret=pfkkdhi9sl3r4s00"
        "&user_id=42&oauth_session_handle=handle-secret",
        content_type="text/html",
    )

    credentials = parse_token_credentials(response)

    assert credentials.extra == {
        "user_id": "42",
        "oauth_session_handle": "handle-secret",
    }
    shown = repr(credentials)
    for secret in ("nnch734d00sl2jdk", "pfkkdhi9sl3r4s00", "handle-secret"):
        assert secret not in shown
    assert "user_id" in shown


@pytest.mark.parametrize("body", ["", "oauth_callback_confirmed=false"])
def test_parse_temporary_credentials_insists_on_callback_confirmation(
    body: str,
) -> None:
    response = form_response("oauth_token=tok&oauth_token_secret=sec-value&" + body)

    with pytest.raises(TokenError, match="oauth_callback_confirmed=true"):
        parse_temporary_credentials(response)
    lenient = parse_temporary_credentials(response, require_callback_confirmed=False)

    assert lenient.token.reveal() == "tok"


@pytest.mark.parametrize(
    ("body", "content_type", "complaint"),
    [
        ("oauth_token=tok", FORM_CONTENT_TYPE, "lacks the field 'oauth_token_secret'"),
        (
            '{"oauth_token": "tok", "oauth_token_secret": "sec-value"}',
            "application/json",
            r"\(HTTP 200, application/json\) lacks the field 'oauth_token'",
        ),
        ("oauth_token=&oauth_token_secret=sec-value", FORM_CONTENT_TYPE, "empty"),
        (
            "oauth_token=a&oauth_token=b&oauth_token_secret=sec-value",
            FORM_CONTENT_TYPE,
            "'oauth_token' more than once",
        ),
        ("oauth_token_secret=sec-value&x=%FF", FORM_CONTENT_TYPE, "not UTF-8"),
    ],
)
def test_bad_token_responses_name_the_problem_without_secrets(
    body: str, content_type: str, complaint: str
) -> None:
    response = form_response(body, content_type=content_type)

    with pytest.raises(TokenError, match=complaint) as caught:
        parse_token_credentials(response)

    assert "sec-value" not in str(caught.value)
    assert caught.value.status_code == 200


def test_a_refusal_reports_the_oauth_problem_but_no_secret() -> None:
    response = form_response(
        "oauth_problem=signature_invalid&oauth_problem_advice=check+the+clock"
        "&oauth_token_secret=leaked-value",
        status=401,
    )

    with pytest.raises(TokenError) as caught:
        parse_token_credentials(response)

    message = str(caught.value)
    assert "HTTP 401" in message
    assert "oauth_problem='signature_invalid'" in message
    assert "check the clock" in message
    assert "leaked-value" not in message
    assert caught.value.error == "signature_invalid"
    assert caught.value.status_code == 401


def test_token_credentials_compare_and_hold_secrets() -> None:
    credentials = parse_token_credentials(
        form_response("oauth_token=t&oauth_token_secret=s")
    )

    assert isinstance(credentials, TokenCredentials)
    assert repr(credentials.token_secret) == "Secret('********')"
