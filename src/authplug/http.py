"""The small HTTP vocabulary that flows speak, independent of any client.

Flows never do I/O. They receive a :class:`Request`, change it (add a header,
a query parameter, a form field) and yield it, or yield new requests of their
own (a token request) and receive a :class:`Response` for each. Adapters for
httpx2, httpx and requests translate between these and their native objects.

``Request.headers`` is any mutable mapping: an adapter may hand in the native
client's case-insensitive headers object so that no copy is made.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from attrs import define, field, frozen

__all__ = ["Request", "Response", "form_encode"]


def _headers_factory() -> MutableMapping[str, str]:
    return {}


@define(slots=True, repr=False)
class Request:
    """An HTTP request as a flow sees it.

    Args:
        method: The HTTP method, upper case.
        url: The absolute URL, query string included.
        headers: The request headers; mutating them changes the request.
        content: The encoded body.
    """

    method: str
    url: str
    headers: MutableMapping[str, str] = field(factory=_headers_factory)
    content: bytes = b""

    def __repr__(self) -> str:
        # Headers, query and body may all carry credentials: show neither.
        parts = urlsplit(self.url)
        shown = urlunsplit(parts._replace(query="", fragment=""))
        query = "?..." if parts.query else ""
        return f"Request({self.method!r}, {shown + query!r})"

    def header(self, name: str) -> str | None:
        """Return the header ``name`` whatever its case, or None."""
        value = self.headers.get(name)
        if value is not None:
            return value

        lowered = name.lower()
        for key, candidate in self.headers.items():
            if key.lower() == lowered:
                return candidate
        return None

    def query_params(self) -> list[tuple[str, str]]:
        """Return the decoded query parameters in order."""
        return parse_qsl(urlsplit(self.url).query, keep_blank_values=True)

    def set_query_param(self, name: str, value: str) -> None:
        """Set ``name`` in the query string, replacing any earlier value."""
        parts = urlsplit(self.url)
        pairs = [
            pair
            for pair in parse_qsl(parts.query, keep_blank_values=True)
            if pair[0] != name
        ]
        pairs.append((name, value))
        self.url = urlunsplit(parts._replace(query=urlencode(pairs)))


@frozen(slots=True)
class Response:
    """An HTTP response as a flow sees it.

    Args:
        status_code: The HTTP status code.
        headers: The response headers; lookups should ignore case, so
            adapters pass a case-insensitive mapping or lower-case keys.
        content: The body, read in full for token responses and empty
            when the flow did not ask for the body of an API response.
    """

    status_code: int
    headers: Mapping[str, str] = field(factory=dict, repr=False)
    content: bytes = field(default=b"", repr=False)

    def header(self, name: str) -> str | None:
        """Return the header ``name`` whatever its case, or None."""
        value = self.headers.get(name)
        if value is not None:
            return value

        lowered = name.lower()
        for key, candidate in self.headers.items():
            if key.lower() == lowered:
                return candidate
        return None

    @property
    def content_type(self) -> str:
        """Return the media type without parameters, lower case."""
        raw = self.header("content-type") or ""
        return raw.split(";", 1)[0].strip().lower()


def form_encode(pairs: Mapping[str, str] | list[tuple[str, str]]) -> bytes:
    """Encode form fields as ``application/x-www-form-urlencoded`` bytes."""
    items = list(pairs.items()) if isinstance(pairs, Mapping) else pairs
    return urlencode(items).encode("ascii")
