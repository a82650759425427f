"""The OAuth1 part of ``authplug authorize``: the three-legged dance.

:func:`authorize_oauth1` runs :class:`~authplug.oauth1_flow.OAuth1Authorization`
from start to finish, with the three things only a command line has given
to it: a way to show the user the authorization page, a way to read back
what the user brings from it, and a way to send HTTP requests.
:func:`send_with_httpx2` is the last of these for real use. The command
that owns ``authorize`` picks this function for oauth1 credentials and
writes the credentials it returns back to the file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from authplug.builtin.oauth1 import OAuth1App, OAuth1User
from authplug.errors import FlowError
from authplug.flow import Clock, NonceSource
from authplug.http import Request, Response
from authplug.oauth1_flow import OAuth1Authorization
from authplug.oauth1_signing import make_nonce
from authplug.records import Credentials

__all__ = ["authorize_oauth1", "send_with_httpx2", "verifier_prompt"]

logger = logging.getLogger(__name__)

Send = Callable[[Request], Response]
"""Sends a request and returns the response, body read in full."""


def verifier_prompt(callback: str) -> str:
    """Return what to ask the user for, given the callback in use."""
    if callback == "oob":
        return "Enter the verifier (PIN) the service showed once you approved"
    return "Paste the address your browser was sent back to, or just its oauth_verifier"


def authorize_oauth1(
    credentials: Credentials[OAuth1User, OAuth1App],
    *,
    open_url: Callable[[str], None],
    read_verifier: Callable[[str], str],
    send: Send,
    clock: Clock = time.time,
    nonce: NonceSource = make_nonce,
) -> Credentials[OAuth1User, OAuth1App]:
    """Authorize ``credentials`` with the user; return them with a token.

    Args:
        credentials: oauth1 credentials whose app names the request token,
            authorization and access token endpoints.
        open_url: Shows the user the authorization page (prints it, opens
            a browser).
        read_verifier: Asks the user with the prompt it is given and
            returns the answer: the verifier, or the whole address the
            service sent the browser back to.
        send: Sends one request; see :func:`send_with_httpx2`.
        clock: The time source for the signatures.
        nonce: The nonce source for the signatures.

    Returns:
        The same credentials, the user side now holding the token and
        token secret.

    Raises:
        ConfigError: An endpoint the dance needs is not set.
        TokenError: The service refused a step.
        FlowError: The answer held no verifier, or one for another token.
    """
    authorization = OAuth1Authorization(credentials, clock, nonce)
    authorization.accept_request_token(send(authorization.request_token_request()))

    open_url(authorization.authorization_url())
    answer = read_verifier(verifier_prompt(authorization.callback)).strip()
    verifier = _verifier(authorization, answer)

    access_request = authorization.access_token_request(verifier)
    authorized = authorization.accept_access_token(send(access_request))
    logger.info("authorized oauth1 consumer %s", credentials.app.consumer_key)
    return authorized


def _verifier(authorization: OAuth1Authorization, answer: str) -> str:
    # An address (or a bare query) is read for its verifier and checked
    # for the token; anything else is taken as the verifier itself.
    if "oauth_verifier=" not in answer:
        return answer
    if "?" not in answer:
        answer = f"?{answer}"
    return authorization.verifier_from_callback(answer)


def send_with_httpx2(request: Request, *, timeout: float = 30.0) -> Response:
    """Send ``request`` with httpx2 and return the whole response.

    Redirects are not followed: a signature covers one URL only.

    Raises:
        FlowError: The service could not be reached.
    """
    import httpx2

    try:
        answer = httpx2.request(
            request.method,
            request.url,
            headers=dict(request.headers),
            content=request.content,
            follow_redirects=False,
            timeout=timeout,
        )
    except httpx2.HTTPError as err:
        # The error's text may quote the URL, whose query can carry a
        # token; name the endpoint without it.
        parts = urlsplit(request.url)
        endpoint = urlunsplit(parts._replace(query="", fragment=""))
        raise FlowError(
            f"could not reach {endpoint} ({type(err).__name__}); check the "
            "URL in the credentials and the network"
        ) from err
    return Response(answer.status_code, answer.headers, answer.content)
