"""Adapters: drive authplug flows from real HTTP clients.

- :mod:`authplug.adapters.httpx2` (the default; ``authplug.auth(...)``
  returns its ``Auth``), sync and async with one object;
- :mod:`authplug.adapters.httpx`, the same for httpx (optional extra);
- :mod:`authplug.adapters.requests`, an ``AuthBase`` and a ``session()``
  helper (optional extra).

How a flow plugs in. Every adapter takes any
:class:`~authplug.flow.AuthFlow`:

- A flow that only adds something to each request (a header, a query
  parameter, a signature) overrides :meth:`~authplug.flow.AuthFlow.apply`.
  The adapter wraps the native request in an :class:`authplug.http.Request`
  whose ``headers`` *is* the native headers object (no copy), with the URL
  as a string and, if the flow sets ``requires_request_body = True``, the
  body as bytes (otherwise ``b""``). Changes to ``url`` and ``content`` are
  written back to the native request; a changed body gets a new
  ``Content-Length``. An OAuth1 signer is exactly this.
- A flow that needs more rounds (a challenge and answer) overrides
  ``auth_flow`` and yields again after reading the response; set
  ``requires_response_body`` to see its body.
- A flow whose credentials carry an expiring token subclasses
  :class:`~authplug.lifecycle.RenewableFlow`; adapters then drive it
  through a :class:`~authplug.lifecycle.Lifecycle`, with the store, single
  flight and the 401 rule, and keep the cached header on a fast path that
  costs one clock read and one header assignment per request.

Every adapter's ``Auth`` has ``credentials`` (the newest tokens, to
persist), ``invalidate()`` (renew before the next request), ``flow`` and
``lifecycle``.
"""
