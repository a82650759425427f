"""Time OAuth1 HMAC-SHA1 signing side by side: authplug and its peers.

Each contender signs the same typical API call, a POST with two query
parameters and a form body of four fields, token credentials in the
Authorization header, taking a fresh timestamp and nonce every time:

- authplug: ``OAuth1Flow.apply`` on a fresh :class:`authplug.http.Request`;
- minimal: the fewest lines of standard library that sign this request
  correctly (below), the floor any library pays on top of;
- Authlib: ``ClientAuth.sign``;
- oauthlib: ``Client.sign``.

Run it with ``python benchmarks/bench_oauth1.py``. Contenders take turns
in every round, so a noisy moment hurts them alike; the best round of each
is reported. It prints figures and ratios only and asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import secrets
import sys
import time
import timeit
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from authlib.oauth1.rfc5849.client_auth import ClientAuth
from oauthlib.common import Request as OAuthlibRequest
from oauthlib.oauth1 import Client as OAuthlibClient
from oauthlib.oauth1.rfc5849 import signature

import authplug
from authplug.http import Request

CONSUMER_KEY = "dpf43f3p2l4k3l03"
CONSUMER_SECRET = "kd94hf93k423kf44"
TOKEN = "nnch734d00sl2jdk"
TOKEN_SECRET = "pfkkdhi9sl3r4s00"

METHOD = "POST"
URL = "https://api.example.com/1.1/statuses/update.json?include_entities=true&lang=en"
FORM = "application/x-www-form-urlencoded"
BODY = "status=Hello%20Ladies%20%2B%20Gentlemen&lat=37.78&long=-122.40&display=true"


def _encode(text: str) -> str:
    return quote(text, safe="~")


def minimal_sign(method: str, url: str, headers: dict[str, str], body: str) -> str:
    """Return the Authorization header for the request, and nothing more.

    What every signer must do: gather query, form and protocol parameters,
    encode and sort them, build the base string and the HMAC. It assumes
    a form body and a URL without a default port, and checks nothing.
    """
    oauth = {
        "oauth_consumer_key": CONSUMER_KEY,
        "oauth_nonce": secrets.token_hex(12),
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(int(time.time())),
        "oauth_token": TOKEN,
    }
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    params += parse_qsl(body, keep_blank_values=True)
    params += oauth.items()
    pairs = sorted((_encode(name), _encode(value)) for name, value in params)
    normalized = "&".join(f"{name}={value}" for name, value in pairs)

    uri = f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path or '/'}"
    base = f"{method.upper()}&{_encode(uri)}&{_encode(normalized)}"
    key = f"{_encode(CONSUMER_SECRET)}&{_encode(TOKEN_SECRET)}"
    digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
    oauth["oauth_signature"] = base64.b64encode(digest).decode()

    fields = ", ".join(f'{name}="{_encode(value)}"' for name, value in oauth.items())
    return f"OAuth {fields}"


def contenders() -> dict[str, Callable[[], object]]:
    """Return one call per contender that signs the request once."""
    flow = authplug.load(
        {
            "type": "oauth1",
            "user": {"token": TOKEN, "token_secret": TOKEN_SECRET},
            "app": {"consumer_key": CONSUMER_KEY, "consumer_secret": CONSUMER_SECRET},
        }
    ).flow()
    body_bytes = BODY.encode("ascii")

    def authplug_apply() -> object:
        request = Request(METHOD, URL, {"Content-Type": FORM}, body_bytes)
        flow.apply(request)
        return request

    def minimal() -> object:
        return minimal_sign(METHOD, URL, {"Content-Type": FORM}, BODY)

    authlib_client = ClientAuth(
        CONSUMER_KEY,
        client_secret=CONSUMER_SECRET,
        token=TOKEN,
        token_secret=TOKEN_SECRET,
    )

    def authlib_sign() -> object:
        return authlib_client.sign(METHOD, URL, {"Content-Type": FORM}, BODY)

    oauthlib_client = OAuthlibClient(
        CONSUMER_KEY,
        client_secret=CONSUMER_SECRET,
        resource_owner_key=TOKEN,
        resource_owner_secret=TOKEN_SECRET,
    )

    def oauthlib_sign() -> object:
        return oauthlib_client.sign(URL, METHOD, BODY, {"Content-Type": FORM})

    return {
        "authplug": authplug_apply,
        "minimal": minimal,
        "authlib": authlib_sign,
        "oauthlib": oauthlib_sign,
    }


def check_agreement() -> None:
    """Make sure every contender signs, and that the signatures verify.

    A benchmark of a signer that signs wrongly would flatter it, so each
    result goes through oauthlib's own signature check first.
    """
    calls = contenders()
    signed = {
        "authplug": _from_authplug(calls["authplug"]()),
        "minimal": (URL, {"Content-Type": FORM, "Authorization": calls["minimal"]()}),
        "authlib": _from_peer(calls["authlib"]()),
        "oauthlib": _from_peer(calls["oauthlib"]()),
    }
    for name, (uri, headers) in signed.items():
        query = urlsplit(uri).query
        request = OAuthlibRequest(uri, METHOD, BODY, headers)
        request.params = signature.collect_parameters(
            uri_query=query, body=BODY, headers=headers
        )
        everything = signature.collect_parameters(
            uri_query=query, body=BODY, headers=headers, exclude_oauth_signature=False
        )
        request.signature = dict(everything)["oauth_signature"]
        if not signature.verify_hmac_sha1(request, CONSUMER_SECRET, TOKEN_SECRET):
            sys.exit(f"{name} does not sign this request correctly")


def _from_authplug(request: object) -> tuple[str, dict[str, str]]:
    assert isinstance(request, Request)
    return request.url, dict(request.headers)


def _from_peer(result: Any) -> tuple[str, dict[str, str]]:
    uri, headers, _ = result
    return uri, dict(headers)


def measure(rounds: int, number: int) -> dict[str, float]:
    """Return the best seconds per call of each contender."""
    calls = contenders()
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            elapsed = timeit.timeit(call, number=number)
            best[name] = min(best[name], elapsed / number)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=2000)
    args = parser.parse_args()

    check_agreement()
    best = measure(args.rounds, args.number)

    ours = best["authplug"]
    print("OAuth1 HMAC-SHA1, POST with query and form body, header placement")
    print(f"Python {sys.version.split()[0]}, best of {args.rounds} x {args.number}")
    print()
    print(f"{'signer':<10} {'us/call':>9} {'calls/s':>10} {'time/authplug':>14}")
    for name, seconds in best.items():
        ratio = seconds / ours
        print(f"{name:<10} {seconds * 1e6:>9.2f} {1 / seconds:>10,.0f} {ratio:>13.2f}x")
    print()
    print(f"authplug / minimal time: {ours / best['minimal']:.2f} (target <= 1.20)")
    for peer in ("authlib", "oauthlib"):
        print(f"authplug rate / {peer} rate: {best[peer] / ours:.2f} (target >= 2.00)")


if __name__ == "__main__":
    main()
