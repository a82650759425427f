"""The ``authorize`` command: get a user's tokens through the browser.

For ``oauth2`` (the authorization code grant) the command listens on a
loopback address, sends the user to the authorization page, takes the
redirect the service sends the browser back with, checks its state and
exchanges the code (with PKCE) for tokens. When the service can only
redirect to an address that is not on this machine, or the browser runs
on another machine, ``--paste`` has the user paste the address the browser
was sent to instead. For ``oauth1`` it runs the three-legged dance of
:mod:`authplug.cli.oauth1_cmd`, asking for the verifier.

The tokens are shown masked unless ``--reveal``; ``--save`` writes them
back to the file (mode 0600, replaced atomically) and ``--name`` saves the
credentials in the token store, as ``authplug connect`` does.
"""

from __future__ import annotations

import functools
import logging
import re
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import attrs
import click
from attrs import frozen

from authplug.builtin.oauth1 import OAuth1App
from authplug.builtin.oauth2 import OAuth2App
from authplug.cli._common import (
    fail,
    note,
    print_table,
    read_credentials_arg,
    warn,
)
from authplug.cli._listener import CallbackListener, Page
from authplug.cli.oauth1_cmd import authorize_oauth1, send_with_httpx2
from authplug.cli.store_cmds import (
    _expiry,
    _send,
    check_connection_target,
    save_connection,
    store_option,
)
from authplug.errors import AuthplugError, TokenError
from authplug.fields import is_loopback
from authplug.files import CredentialsFile, write_credentials_file
from authplug.lifecycle import RenewableFlow
from authplug.oauth2.flows import OAuth2Flow
from authplug.records import Credentials
from authplug.secret import MASK, Secret

__all__ = ["authorize"]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 300.0
DEFAULT_PATH = "/callback"

_DONE = Page(
    200,
    "Authorized",
    "authplug has the tokens. You can close this tab and return to the terminal.",
)


# -- where the browser is sent back to ------------------------------------------


@frozen
class Endpoint:
    """Where the listener binds, and how the redirect URI names it.

    Args:
        bind_host: The address to bind: ``127.0.0.1`` or ``::1``.
        port: The port to bind; 0 for any free one.
        parts: The redirect URI's parts; its port is filled in once bound.
        fixed_uri: The app's redirect URI when it names its port: sent
            exactly as written, since services compare it character by
            character.
    """

    bind_host: str
    port: int
    parts: SplitResult
    fixed_uri: str | None = None

    @property
    def path(self) -> str:
        """Return the callback path the listener answers."""
        return self.parts.path or "/"

    def redirect_uri(self, port: int) -> str:
        """Return the redirect URI for a listener bound to ``port``."""
        if self.fixed_uri is not None:
            return self.fixed_uri
        host = self.parts.hostname or "127.0.0.1"
        shown = f"[{host}]" if ":" in host else host
        return urlunsplit(self.parts._replace(netloc=f"{shown}:{port}"))


def _is_loopback_http(parts: SplitResult) -> bool:
    return parts.scheme == "http" and is_loopback(parts.hostname or "")


def listener_endpoint(redirect_uri: str | None, port: int | None) -> Endpoint:
    """Decide where to listen for the redirect to ``redirect_uri``.

    Without a redirect URI the listener takes ``127.0.0.1`` and ``--port``
    (or a free port) with the path ``/callback``. A loopback ``http``
    redirect URI is listened on as written; one without a port gets
    ``--port`` or a free one, which loopback redirect URIs allow
    (RFC 8252, section 7.3).

    Raises:
        click.UsageError: ``--port`` disagrees with the redirect URI's port.
        click.ClickException: The redirect URI is not a loopback address.
    """
    if redirect_uri is None:
        parts = urlsplit(f"http://127.0.0.1{DEFAULT_PATH}")
        return Endpoint("127.0.0.1", port or 0, parts)

    parts = urlsplit(redirect_uri)
    if not _is_loopback_http(parts):
        fail(
            f"the app's redirect_uri {redirect_uri} is not a loopback address "
            "(http on 127.0.0.1, ::1 or localhost), so the redirect cannot "
            "be received here; run again with --paste to paste the address "
            "your browser is sent to after you approve"
        )

    fixed = parts.port
    if fixed is not None and port is not None and port != fixed:
        raise click.UsageError(
            f"--port {port} disagrees with the app's redirect_uri, which "
            f"names port {fixed}; leave --port out"
        )
    host = parts.hostname or "127.0.0.1"
    bind_host = "::1" if ":" in host else "127.0.0.1"
    fixed_uri = redirect_uri if fixed is not None else None
    return Endpoint(bind_host, fixed or port or 0, parts, fixed_uri)


def paste_redirect_uri(redirect_uri: str | None, port: int | None) -> str:
    """Return the redirect URI to send when the user pastes the answer.

    The app's own, or one on 127.0.0.1 as :func:`listener_endpoint` would
    make (with ``--port`` if given, else without a port: nothing listens,
    and the address bar shows the answer all the same).
    """
    if redirect_uri is not None and not _is_loopback_http(urlsplit(redirect_uri)):
        if port is not None:
            raise click.UsageError(
                "--port applies to a loopback redirect_uri only; the app's "
                f"is {redirect_uri}"
            )
        return redirect_uri

    endpoint = listener_endpoint(redirect_uri, port)
    if endpoint.port == 0:
        return urlunsplit(endpoint.parts)
    return endpoint.redirect_uri(endpoint.port)


# -- talking to the user ------------------------------------------------------


def _show_url(url: str, browser: bool) -> None:
    click.echo("Open this address in a browser and approve the access:", err=True)
    click.echo(f"\n  {url}\n", err=True)
    if not browser:
        return
    try:
        started = webbrowser.open(url)
    except webbrowser.Error as err:
        logger.debug("could not start a browser: %s", err)
        started = False
    if not started:
        note("no browser could be started here; open the address yourself")


def _failure_page(error: AuthplugError) -> Page:
    reason = (
        f" ({error.error})" if isinstance(error, TokenError) and error.error else ""
    )
    return Page(
        400,
        "Authorization failed",
        f"authplug could not finish the authorization{reason}. You can close "
        "this tab; the terminal says what happened and what to do.",
    )


# -- the grants -----------------------------------------------------------------


@frozen
class Options:
    """What the command line asked for, for the grants."""

    port: int | None
    browser: bool
    timeout: float
    paste: bool


def authorize_oauth2(flow: OAuth2Flow, options: Options) -> Credentials[Any, Any]:
    """Run the code grant with the user; return the credentials with tokens.

    Raises:
        TokenError: The user or the service refused (``access_denied``,
            ``invalid_grant``, ...).
        FlowError: The state did not match, or no code came back.
        click.ClickException: No redirect arrived in time.
    """
    redirect_uri = flow.app.redirect_uri
    if options.paste:
        return _by_paste(flow, paste_redirect_uri(redirect_uri, options.port), options)

    endpoint = listener_endpoint(redirect_uri, options.port)
    try:
        listener = CallbackListener(endpoint.bind_host, endpoint.port, endpoint.path)
    except OSError as err:
        where = f"{endpoint.bind_host} port {endpoint.port}"
        fail(
            f"cannot listen for the redirect on {where}: "
            f"{err.strerror or err}; free the port, or pass --port with another "
            "(a redirect_uri with a port of its own needs that port)"
        )

    with listener:
        uri = endpoint.redirect_uri(listener.port)
        pending = flow.start_authorization(redirect_uri=uri)
        _show_url(pending.url, options.browser)
        note(f"waiting up to {options.timeout:g} s for the redirect to {uri}")

        arrived = listener.wait(options.timeout)
        if arrived is None:
            fail(
                f"no redirect reached {uri} within {options.timeout:g} seconds; "
                "run the command again and approve in the browser in time "
                "(--timeout sets how long to wait)"
            )
        origin = urlsplit(uri)
        callback = urlunsplit((origin.scheme, origin.netloc, "", "", "")) + arrived
        try:
            authorized: Credentials[Any, Any] = _send(
                flow.exchange_code(pending, callback)
            )
        except AuthplugError as err:
            listener.answer(_failure_page(err))
            raise
        listener.answer(_DONE)
    return authorized


def _by_paste(
    flow: OAuth2Flow, redirect_uri: str, options: Options
) -> Credentials[Any, Any]:
    pending = flow.start_authorization(redirect_uri=redirect_uri)
    _show_url(pending.url, options.browser)
    note(
        f"after you approve, the browser is sent to {redirect_uri}: copy the "
        "whole address from the address bar then, even if the page itself "
        "does not load"
    )

    answer = click.prompt(
        "Paste the address your browser was sent to", err=True
    ).strip()
    if "state=" not in answer and "error=" not in answer:
        fail(
            "that is not the address the browser was sent to: it has no "
            "state; paste the whole address from the address bar, with its "
            "code and state"
        )
    authorized: Credentials[Any, Any] = _send(flow.exchange_code(pending, answer))
    return authorized


def _authorize_oauth1(
    credentials: Credentials[Any, Any], options: Options
) -> Credentials[Any, Any]:
    if options.port is not None or options.paste:
        raise click.UsageError(
            "--port and --paste apply to oauth2 credentials; oauth1 asks for "
            "the verifier the service gives after you approve"
        )
    authorized: Credentials[Any, Any] = authorize_oauth1(
        credentials,
        open_url=functools.partial(_show_url, browser=options.browser),
        read_verifier=functools.partial(click.prompt, err=True),
        send=send_with_httpx2,
    )
    return authorized


def _grant_for(
    credentials: Credentials[Any, Any],
) -> Callable[[Options], Credentials[Any, Any]]:
    """Return how to authorize ``credentials``, or stop if they need none."""
    kind = credentials.type.name
    if isinstance(credentials.app, OAuth1App):
        return functools.partial(_authorize_oauth1, credentials)

    flow = credentials.flow()
    if isinstance(credentials.app, OAuth2App) and isinstance(flow, OAuth2Flow):
        return functools.partial(authorize_oauth2, flow)

    if isinstance(flow, RenewableFlow):
        fail(
            f"{kind} credentials have no authorization step: their grant "
            "needs no browser. 'authplug token FILE' gets a token with them, "
            "and 'authplug connect NAME FILE' saves them in the store"
        )
    fail(
        f"{kind} credentials have no authorization step: they are used as "
        "they are. 'authplug validate FILE' checks them"
    )


# -- writing the result ---------------------------------------------------------

# A ${NAME} reference or its $${ escape: written back, either would be lost.
_REFERENCE = re.compile(r"\$\{")


def _check_savable(loaded: CredentialsFile) -> None:
    """Refuse ``--save`` for files that writing back would spoil."""
    path = loaded.path
    if loaded.shape == "tray":
        fail(
            f"{path} is a Tray test context; --save writes authplug's own "
            "document and would change its shape. Save the tokens in the "
            "store with --name NAME instead"
        )
    if _REFERENCE.search(path.read_text(encoding="utf-8-sig")):
        fail(
            f"{path} takes values from the environment (${{NAME}}); --save "
            "would write those values into the file. Save the tokens in the "
            "store with --name NAME instead, or put the values in the file "
            "first"
        )


def _shown(value: Any, reveal: bool, now: float, name: str) -> str:
    if isinstance(value, Secret):
        return value.reveal() if reveal else MASK
    if value is None:
        return "-"
    if name == "expires_at" and isinstance(value, (int, float)):
        return _expiry(float(value), now)
    if isinstance(value, (list, tuple)):
        return " ".join(str(item) for item in value) or "-"
    return str(value)


def _print_tokens(credentials: Credentials[Any, Any], *, reveal: bool) -> None:
    user = credentials.user
    now = time.time()
    rows = [
        (field.name, _shown(getattr(user, field.name), reveal, now, field.name))
        for field in attrs.fields(type(user))
    ]
    print_table(("Field", "Value"), rows)

    has_secrets = any(
        isinstance(getattr(user, field.name), Secret)
        for field in attrs.fields(type(user))
    )
    if has_secrets and not reveal:
        note("the tokens are masked; pass --reveal to print them")


# -- the command ------------------------------------------------------------------


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--type",
    "type_name",
    metavar="NAME",
    help="The auth type, for files that name none.",
)
@click.option(
    "--save",
    is_flag=True,
    help="Write the credentials, with the new tokens, back to FILE (mode 0600).",
)
@click.option(
    "--name",
    metavar="NAME",
    help="Save the credentials and tokens in the token store as NAME.",
)
@store_option
@click.option(
    "--replace", is_flag=True, help="Replace credentials already saved as NAME."
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    metavar="PORT",
    help="The port to listen on for the redirect (default: any free port).",
)
@click.option(
    "--paste",
    is_flag=True,
    help="Paste the address the browser is sent to instead of listening for it.",
)
@click.option(
    "--no-browser",
    is_flag=True,
    help="Print the address to open without starting a browser.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for the redirect (not with --paste).",
)
@click.option("--reveal", is_flag=True, help="Print the tokens themselves.")
def authorize(
    file: Path,
    type_name: str | None,
    save: bool,
    name: str | None,
    store_url: str | None,
    replace: bool,
    port: int | None,
    paste: bool,
    no_browser: bool,
    timeout: float,
    reveal: bool,
) -> None:
    """Have a user approve access in the browser, and get their tokens.

    For oauth2 credentials (the authorization code grant) the command
    listens on 127.0.0.1 for the redirect, at http://127.0.0.1:PORT/callback,
    or at the app's redirect_uri if that is a loopback address; the service
    must accept that redirect URI. --paste asks for the address the browser
    was sent to instead, for a redirect_uri elsewhere or a browser on
    another machine. For oauth1 credentials it asks for the verifier.

    The tokens are printed masked unless --reveal. --save writes them back
    to FILE; --name NAME saves the credentials in the token store, as
    'authplug connect' does.
    """
    if store_url is not None and name is None:
        raise click.UsageError("--store needs --name NAME: the name to save under")
    if replace and name is None:
        raise click.UsageError("--replace needs --name NAME")

    loaded = read_credentials_arg(file, type_name)
    grant = _grant_for(loaded.credentials)
    if save:
        _check_savable(loaded)
    if name is not None:
        check_connection_target(name, store_url, replace)

    options = Options(port=port, browser=not no_browser, timeout=timeout, paste=paste)
    authorized = grant(options)
    logger.info("authorized %s credentials from %s", authorized.type.name, file)

    _print_tokens(authorized, reveal=reveal)
    if save:
        write_credentials_file(file, authorized, format=loaded.format)
        click.echo(f"Wrote the credentials with the new tokens to {file}")
    if name is not None:
        save_connection(
            name, authorized, source=file, store_url=store_url, replace=replace
        )
    if not save and name is None:
        warn(
            "the tokens are kept nowhere: pass --save to write them to the "
            "file, or --name NAME to save them in the token store"
        )
