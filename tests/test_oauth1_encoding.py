"""Check the fast paths of OAuth1 percent-encoding against urllib.

Signing takes shortcuts: a table in place of urllib's quoting, and form
parts already written the RFC 5849 way taken as they are, undecoded. Each
shortcut must give exactly what the long way gives, for any input.
"""

from __future__ import annotations

from urllib.parse import quote_from_bytes, unquote_to_bytes

from hypothesis import example, given
from hypothesis import strategies as st

from authplug.oauth1_signing import _rfc_encoded, percent_encode

# Escapes of every kind: reserved and unreserved octets, lower and upper
# case hex, broken ones, and the characters around them.
FORM_ALPHABET = st.sampled_from(
    [
        *"%+aAzZ09-._~ !*'()&=/?#",
        *("%20", "%2B", "%2b", "%41", "%7E", "%7e", "%2D", "%5F", "%5f"),
        *("%C3%A9", "%c3%a9", "%FF", "%G0", "%4", "é", "€", "日"),
    ]
)


def the_long_way(raw: str) -> str:
    """Decode a form part as forms do, then encode it with urllib."""
    return quote_from_bytes(unquote_to_bytes(raw.replace("+", " ")), safe="")


@given(st.text())
@example("")
@example("a b+c~*")
def test_percent_encoding_text_is_urllibs(text: str) -> None:
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        return

    assert percent_encode(text) == quote_from_bytes(data, safe="")


@given(st.binary())
def test_percent_encoding_bytes_is_urllibs(data: bytes) -> None:
    assert percent_encode(data) == quote_from_bytes(data, safe="")


@given(st.lists(FORM_ALPHABET).map("".join))
@example("Hello%20Ladies%20%2B%20Gentlemen")
@example("%41%2d")
def test_a_form_part_encodes_as_if_decoded_first(raw: str) -> None:
    assert _rfc_encoded(raw) == the_long_way(raw)


def test_every_escape_encodes_as_if_decoded_first() -> None:
    escapes = [f"%{byte:02X}" for byte in range(256)]
    escapes += [f"%{byte:02x}" for byte in range(256)]

    wrong = [raw for raw in escapes if _rfc_encoded(raw) != the_long_way(raw)]

    assert wrong == []


@given(st.text())
def test_any_form_part_encodes_as_if_decoded_first(raw: str) -> None:
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return

    assert _rfc_encoded(raw) == the_long_way(raw)
