"""The plugin contract: the rules every auth type keeps, as properties.

Each check is a hypothesis property over many generated documents and
requests. A broken rule raises :class:`ContractViolation` naming the type,
its plugin, the rule and the smallest example that breaks it.

=======================  ================================================
check                    rule
=======================  ================================================
``names``                name and aliases are well formed, unique in the
                         registry, and resolve to this type
``models``               the models are frozen, keyword-only attrs classes
``generation``           generated documents load often enough that the
                         other checks see real data (no hidden filter)
``round_trip``           ``load(dump(x)) == x``, through plain JSON
``malformed``            every broken field is rejected with its path
``secrets``              no secret in a repr, str, error, log or warning
``schema``               the JSON Schema is valid Draft 2020-12, valid
                         documents satisfy it, and what it accepts loads
``flow_deterministic``   a fixed clock and nonce give the same requests
``flow_idempotent``      applying twice leaves what applying once did
``flow_no_io``           the flow does no I/O but the requests it yields
=======================  ================================================

Use it from pytest by subclassing :class:`AuthTypeContract`, or anywhere
with :func:`check_auth_type`.
"""

from __future__ import annotations

import importlib
import itertools
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qsl

import attrs
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from hypothesis.errors import FailedHealthCheck, Unsatisfiable

from authplug.convert import structure, unstructure
from authplug.errors import AuthplugError, ConfigError, UnknownAuthType
from authplug.flow import AuthFlow
from authplug.http import Request, Response
from authplug.records import _ALIAS, _NAME, AuthType, Credentials
from authplug.registry import Registry, registry
from authplug.testing import pytest_plugin, sandbox
from authplug.testing import strategies as gen
from authplug.testing.report import (
    Broken,
    ContractReport,
    ContractSkipped,
    ContractViolation,
    Failure,
)

__all__ = ["CHECKS", "AuthTypeContract", "Contract", "check_auth_type"]

CHECKS = (
    "names",
    "models",
    "generation",
    "round_trip",
    "malformed",
    "secrets",
    "schema",
    "flow_deterministic",
    "flow_idempotent",
    "flow_no_io",
)
"""Every check, in the order they run."""

MIN_LOAD_SHARE = 0.5
"""The share of generated candidates that must end up loading."""

_MALFORMED_SCANNED = 4
"""Malformed documents the secrets and schema checks try per example."""

_T = TypeVar("_T")


def _fixed_clock() -> float:
    return gen.FIXED_NOW


def _nonce_sequence() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"kitnonce{next(counter):08d}"


def _constant_nonce() -> str:
    return "kitnonce00000001"


def _excerpt(text: str, needle: str, width: int = 60) -> str:
    at = text.find(needle)
    start, end = max(0, at - width), at + len(needle) + width
    prefix = "..." if start else ""
    suffix = "..." if end < len(text) else ""
    return f"{prefix}{text[start:end]}{suffix}"


def _plain(value: Any) -> Any:
    """Return a model instance as plain data with secrets shown, for reports."""
    return unstructure(value, reveal_secrets=True)


def _models_of(model: type, seen: list[type] | None = None) -> list[type]:
    """Return ``model`` and every attrs model its fields nest, once each."""
    found = seen if seen is not None else []
    if model in found:
        return found
    found.append(model)
    attrs.resolve_types(model)
    for attribute in attrs.fields(model):
        for type_ in _mentioned_types(attribute.type):
            if isinstance(type_, type) and attrs.has(type_):
                _models_of(type_, found)
    return found


def _mentioned_types(type_: Any) -> Iterator[Any]:
    yield type_
    for arg in getattr(type_, "__args__", ()) or ():
        yield from _mentioned_types(arg)


def _instances(value: Any) -> Iterator[Any]:
    """Yield ``value`` and every attrs instance nested in it."""
    if attrs.has(type(value)):
        yield value
        for attribute in attrs.fields(type(value)):
            yield from _instances(getattr(value, attribute.name))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _instances(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _instances(item)


def _canonical(request: Request) -> tuple[Any, ...]:
    headers = sorted((name.lower(), value) for name, value in request.headers.items())
    return (request.method, request.url, tuple(headers), request.content)


def _describe(request: Request) -> str:
    headers = {name: value for name, value in sorted(request.headers.items())}
    return f"{request.method} {request.url} headers={headers} body={request.content!r}"


def _form_pairs(request: Request) -> list[tuple[str, str]]:
    kind = (request.header("content-type") or "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return []
    return parse_qsl(request.content.decode("utf-8", "replace"), keep_blank_values=True)


def _repetition(once: Request, twice: Request) -> list[str]:
    """Describe what applying the flow a second time changed."""
    changes = []
    first = Counter(name.lower() for name in once.headers)
    second = Counter(name.lower() for name in twice.headers)
    for name, count in second.items():
        if count > first.get(name, 0):
            changes.append(f"header {name!r} appears {count} times, not once")
    for name in sorted(set(first) | set(second)):
        a, b = once.header(name), twice.header(name)
        if a != b and second.get(name, 0) <= first.get(name, 0):
            changes.append(f"header {name!r} went from {a!r} to {b!r}")

    for where, pairs_once, pairs_twice in (
        ("query", once.query_params(), twice.query_params()),
        ("form body", _form_pairs(once), _form_pairs(twice)),
    ):
        counts_once = Counter(key for key, _ in pairs_once)
        counts_twice = Counter(key for key, _ in pairs_twice)
        for key, count in counts_twice.items():
            if count > counts_once.get(key, 0):
                changes.append(
                    f"{where} parameter {key!r} appears {count} times, "
                    f"{counts_once.get(key, 0)} after the first application"
                )
        if pairs_once != pairs_twice and not changes:
            changes.append(f"{where} went from {pairs_once!r} to {pairs_twice!r}")

    if not changes and _canonical(once) != _canonical(twice):
        changes.append(f"the request went from {_describe(once)} to {_describe(twice)}")
    return changes


def _unauthorized_first(original: Request, sent: Request, step: int) -> Response:
    """Answer the first API request with 401, so retry paths run too."""
    if step == 1 and (sent is original or sandbox.same_target(sent, original)):
        return Response(
            status_code=401,
            headers={"www-authenticate": 'Bearer error="invalid_token"'},
            content=b"",
        )
    return sandbox.synthetic_response(original, sent)


class Contract:
    """The contract checks for one auth type.

    Args:
        auth_type: The type, or its name or alias to resolve in
            ``registry``.
        registry: The registry the type must be registered in; the
            process default if not given.
        max_examples: Examples per property; by default the
            ``--authplug-examples`` option, else the hypothesis profile.
        examples: Whole documents that must load, drawn beside generated
            ones.

    Raises:
        ContractViolation: ``auth_type`` is a name that does not resolve.
    """

    def __init__(
        self,
        auth_type: AuthType | str,
        *,
        registry: Registry | None = None,
        max_examples: int | None = None,
        examples: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.registry = registry
        self.max_examples = max_examples
        self._documents_load: bool | None = None
        self.examples = [dict(example) for example in examples]
        if isinstance(auth_type, AuthType):
            self.auth_type = self._registered(auth_type)
            return
        try:
            self.auth_type = self._registry().get(auth_type)
        except UnknownAuthType as exc:
            message = (
                f"{exc}\nIs the plugin's distribution installed (pip install -e .) "
                "and its module declared under [project.entry-points.authplug]?"
            )
            raise ContractViolation(auth_type, [Failure("names", message)]) from exc

    def _registered(self, auth_type: AuthType) -> AuthType:
        """Return the registry's copy of ``auth_type``, which knows its plugin."""
        try:
            found = self._registry().get(auth_type.name)
        except UnknownAuthType:
            return auth_type
        if found == auth_type and found.flow is auth_type.flow:
            return found
        return auth_type

    def _registry(self) -> Registry:
        return self.registry if self.registry is not None else registry()

    @property
    def origin(self) -> str:
        """Describe where the type comes from: plugin, distribution, version."""
        parts = []
        if self.auth_type.plugin:
            parts.append(f"plugin {self.auth_type.plugin!r}")
        if self.auth_type.distribution:
            parts.append(f"{self.auth_type.distribution} {self.auth_type.version}")
        return ", ".join(parts)

    def run(self, checks: Sequence[str] = CHECKS) -> ContractReport:
        """Run ``checks`` and report; raise one violation listing every failure.

        Raises:
            ContractViolation: One or more checks failed.
        """
        __tracebackhide__ = True
        passed: list[str] = []
        skipped: list[tuple[str, str]] = []
        failures: list[Failure] = []
        for name in checks:
            try:
                self.check(name)
            except ContractSkipped as skip:
                skipped.append((name, skip.reason))
            except ContractViolation as violation:
                failures.extend(violation.failures)
            else:
                passed.append(name)

        if failures:
            raise ContractViolation(self.auth_type.name, failures, origin=self.origin)
        return ContractReport(self.auth_type.name, tuple(passed), tuple(skipped))

    def check(self, name: str) -> None:
        """Run one check.

        Raises:
            ContractViolation: The type breaks the rule.
            ContractSkipped: The rule does not apply to the type.
            ValueError: ``name`` is not a check.
        """
        __tracebackhide__ = True  # pytest shows the report, not the kit
        if name not in CHECKS:
            raise ValueError(f"no check {name!r}; the checks are: {', '.join(CHECKS)}")
        method: Callable[[], None] = getattr(self, f"_check_{name}")
        try:
            method()
        except Broken as broken:
            failure = Failure(name, str(broken))
            # Chain only an error from the type's own code: a rule the kit
            # found broken needs its report, not the kit's traceback.
            raise ContractViolation(
                self.auth_type.name, [failure], origin=self.origin
            ) from broken.__cause__
        except gen.UnsupportedField as exc:
            failure = Failure(name, str(exc))
            raise ContractViolation(
                self.auth_type.name, [failure], origin=self.origin
            ) from exc

    # Running properties.

    def _settings(self, cap: int | None = None) -> settings:
        base = settings()
        count = self.max_examples or pytest_plugin.examples() or base.max_examples
        if cap is not None:
            count = min(count, cap)
        return settings(
            base,
            max_examples=count,
            # Explaining replays the failure hundreds of times; the report
            # already says what broke.
            phases=[phase for phase in base.phases if phase is not Phase.explain],
            deadline=None,
            report_multiple_bugs=False,
            suppress_health_check=[
                *base.suppress_health_check,
                HealthCheck.too_slow,
                HealthCheck.filter_too_much,
                HealthCheck.data_too_large,
                HealthCheck.large_base_example,
            ],
        )

    def _property(
        self,
        check: str,
        strategy: st.SearchStrategy[_T],
        test: Callable[[_T], None],
        *,
        cap: int | None = None,
        phases: Sequence[Phase] | None = None,
        refused: Callable[[], str] = lambda: "",
    ) -> None:
        def prop(value: _T) -> None:
            test(value)

        # Distinct names keep hypothesis's saved examples apart per type.
        label = re.sub(r"\W", "_", self.auth_type.name)
        prop.__name__ = prop.__qualname__ = f"{check}_{label}"
        chosen = self._settings(cap)
        if phases is not None:
            chosen = settings(chosen, phases=phases)
        try:
            chosen(given(strategy)(prop))()
        except (Broken, gen.UnsupportedField):
            raise
        except (Unsatisfiable, FailedHealthCheck) as exc:
            reason = refused() or str(exc).splitlines()[0]
            raise Broken(f"could not find enough examples to check: {reason}") from exc
        except Exception as exc:
            notes = "".join(f"\n  {note}" for note in getattr(exc, "__notes__", ()))
            raise Broken(
                f"{type(exc).__name__} raised while checking: {exc}{notes}"
            ) from exc

    # The checks.

    def _check_names(self) -> None:
        auth_type = self.auth_type
        problems: list[str] = []

        if not _NAME.match(auth_type.name):
            problems.append(f"name {auth_type.name!r} is not lowercase dotted words")
        if not auth_type.summary.strip() or "\n" in auth_type.summary:
            problems.append("summary must be one non-empty line")
        for alias in auth_type.aliases:
            if not _ALIAS.match(alias):
                problems.append(f"alias {alias!r} is not one word")
        repeated = [name for name, n in Counter(auth_type.names).items() if n > 1]
        if repeated:
            problems.append(f"names repeated: {', '.join(map(repr, repeated))}")

        known = self._registry()
        for name in auth_type.names:
            try:
                found = known.get(name)
            except UnknownAuthType:
                problems.append(
                    f"{name!r} does not resolve in the registry: is the plugin "
                    "installed and its entry point in the 'authplug' group?"
                )
                continue
            if found != auth_type or found.flow is not auth_type.flow:
                problems.append(
                    f"{name!r} resolves to a different record: {found.name!r} from "
                    f"plugin {found.plugin!r}"
                )

        # Lookups fall back to other letter cases, so these would be ambiguous.
        for other in known.types():
            if other.name == auth_type.name:
                continue
            for mine in auth_type.names:
                for theirs in other.names:
                    if mine != theirs and mine.lower() == theirs.lower():
                        problems.append(
                            f"{mine!r} differs only in case from {theirs!r}, a "
                            f"name of {other.name!r} (plugin {other.plugin!r})"
                        )
        if auth_type.parent is not None and auth_type.parent not in known:
            problems.append(f"parent {auth_type.parent!r} is not registered")

        if problems:
            raise Broken("; ".join(problems))

    def _models(self) -> list[type]:
        """Return the user and app models and every model they nest."""
        models: list[type] = []
        for side_model in (self.auth_type.user_model, self.auth_type.app_model):
            try:
                found = _models_of(side_model)
            except (NameError, TypeError) as exc:
                name = side_model.__name__
                raise Broken(
                    f"the annotations of {name} do not resolve: {exc}"
                ) from exc
            models.extend(model for model in found if model not in models)
        return models

    def _check_models(self) -> None:
        auth_type = self.auth_type
        problems: list[str] = []
        models = self._models()

        for model in models:
            loose = [a.name for a in attrs.fields(model) if a.init and not a.kw_only]
            if loose:
                problems.append(
                    f"{model.__name__} has positional fields {', '.join(loose)}; "
                    "declare it with @attrs.frozen(kw_only=True)"
                )
            if getattr(model, "__eq__", None) is object.__eq__:
                problems.append(f"{model.__name__} does not compare by value")
        if problems:
            raise Broken("; ".join(problems))

        self._require_documents()

        def frozen(document: dict[str, Any]) -> None:
            credentials = auth_type.load(document)
            for instance in _instances((credentials.user, credentials.app)):
                self._assert_frozen(instance)

        self._property(
            "models",
            gen.valid_documents(auth_type, examples=self.examples),
            frozen,
            cap=5,
        )

    @staticmethod
    def _assert_frozen(instance: Any) -> None:
        fields = attrs.fields(type(instance))
        name = fields[0].name if fields else "probe"
        value = getattr(instance, name, None)
        try:
            setattr(instance, name, value)
        except attrs.exceptions.FrozenInstanceError:
            return
        except AttributeError:
            # Slotted and fieldless: nothing can be set, which is as good.
            if not fields:
                return
            raise
        model = type(instance).__name__
        raise Broken(
            f"{model} is not frozen: setting {name!r} on an instance succeeded; "
            "declare it with @attrs.frozen(kw_only=True), so credentials "
            "cannot change under a flow that is using them"
        )

    def _require_documents(self) -> None:
        """Fail fast, pointing at ``generation``, when no document loads.

        Without this, every check over valid documents would spend its
        whole budget looking for one before giving up.
        """
        if self._documents_load is None:
            loaded: list[bool] = []
            candidates = gen.candidate_documents(self.auth_type)

            def attempt(data: st.DataObject) -> None:
                document = data.draw(candidates)
                loaded.append(gen.settle(data.draw, self.auth_type, document) is None)

            self._property(
                "preflight", st.data(), attempt, cap=10, phases=[Phase.generate]
            )
            self._documents_load = any(loaded)
        if not self._documents_load:
            raise Broken(
                "no generated document loads, so there is nothing to check "
                "this rule on; the generation check says why"
            )

    def _check_generation(self) -> None:
        auth_type = self.auth_type
        for index, example in enumerate(self.examples):
            error = gen.load_error(auth_type, example)
            if error is not None:
                raise Broken(f"example {index} does not load:\n{error}")
        for model in self._models():
            for index, example in enumerate(gen.model_examples(model)):
                try:
                    structure(example, model)
                except ConfigError as error:
                    raise Broken(
                        f"{model.__name__}.__authplug_examples__[{index}] does "
                        f"not load:\n{error}"
                    ) from None

        outcomes: list[ConfigError | None] = []
        candidates = gen.candidate_documents(auth_type)

        def attempt(data: st.DataObject) -> None:
            document = data.draw(candidates)
            outcomes.append(gen.settle(data.draw, auth_type, document))

        self._property(
            "generation", st.data(), attempt, phases=[Phase.explicit, Phase.generate]
        )

        failed = [outcome for outcome in outcomes if outcome is not None]
        if not outcomes or len(failed) / len(outcomes) <= 1 - MIN_LOAD_SHARE:
            return
        blamed: Counter[str] = Counter()
        sample: dict[str, str] = {}
        for rejection in failed:
            for problem in rejection.errors:
                blamed[problem.path] += 1
                sample.setdefault(problem.path, problem.message)
        top = "\n".join(
            f"  {path or '(document)'}: {count} times, e.g. {sample[path]}"
            for path, count in blamed.most_common(5)
        )
        raise Broken(
            f"only {len(outcomes) - len(failed)} of {len(outcomes)} generated "
            f"documents load (the kit needs at least {MIN_LOAD_SHARE:.0%}), so "
            "every other check would see too little. The fields blamed most:\n"
            f"{top}\n"
            "If a field takes values random data rarely hits, register a strategy "
            "for it: authplug.testing.register_strategy(Model, strategy, "
            "field='name'). If no document can load, the model is broken."
        )

    def _check_round_trip(self) -> None:
        self._require_documents()
        auth_type = self.auth_type

        def round_trip(document: dict[str, Any]) -> None:
            credentials = auth_type.load(document)
            dumped = auth_type.dump(credentials)
            try:
                text = json.dumps(dumped)
            except (TypeError, ValueError) as exc:
                raise Broken(
                    f"dump() did not give plain JSON data ({exc}): {dumped!r}"
                ) from exc

            error = gen.load_error(auth_type, json.loads(text))
            if error is not None:
                raise Broken(
                    f"the dump does not load again:\n{error}\n  dump: {dumped!r}"
                )
            again = auth_type.load(json.loads(text))
            if again != credentials:
                raise Broken(
                    "load(dump(x)) != x:\n"
                    f"  {self._differences(credentials, again)}\n"
                    f"  document: {document!r}"
                )
            if auth_type.dump(again) != dumped:
                raise Broken(
                    f"dump is not stable: {dumped!r} then {auth_type.dump(again)!r}"
                )

        self._property("round_trip", self._valid(), round_trip)

    @staticmethod
    def _differences(
        before: Credentials[Any, Any], after: Credentials[Any, Any]
    ) -> str:
        found = []
        for side in ("user", "app"):
            old, new = _plain(getattr(before, side)), _plain(getattr(after, side))
            if old == new:
                if getattr(before, side) != getattr(after, side):
                    found.append(f"{side} differs though its dump is the same")
                continue
            for key in sorted(set(old) | set(new)):
                if old.get(key) != new.get(key):
                    found.append(
                        f"{side}.{key} was {old.get(key)!r}, "
                        f"came back as {new.get(key)!r}"
                    )
        if before.auth_id != after.auth_id:
            found.append(f"auth_id was {before.auth_id!r}, came back {after.auth_id!r}")
        return "; ".join(found) or "the credentials differ"

    def _valid(self) -> st.SearchStrategy[dict[str, Any]]:
        return gen.valid_documents(self.auth_type, examples=self.examples)

    def _check_malformed(self) -> None:
        self._require_documents()
        auth_type = self.auth_type
        valid = self._valid()

        def each_rejected(data: st.DataObject) -> None:
            base = data.draw(valid)
            for document, path, change in gen.every_malformed(
                data.draw, auth_type, base
            ):
                try:
                    auth_type.load(document)
                except ConfigError as error:
                    self._assert_blames(error, path, change, document)
                    continue
                except Exception as exc:
                    raise Broken(
                        f"{change}: loading raised {type(exc).__name__} instead "
                        f"of ConfigError: {exc}\n  document: {document!r}"
                    ) from exc
                raise Broken(f"{change}, and the document still loads: {document!r}")

        self._property("malformed", st.data(), each_rejected)

    @staticmethod
    def _assert_blames(
        error: ConfigError, path: str, change: str, document: dict[str, Any]
    ) -> None:
        def within(found: str) -> bool:
            return found == path or found.startswith((f"{path}.", f"{path}["))

        paths = [problem.path for problem in error.errors]
        if not any(within(found) for found in paths):
            raise Broken(
                f"{change}: the error should name {path!r} but names "
                f"{paths!r}:\n{error}\n  document: {document!r}"
            )
        stray = [found for found in paths if not within(found)]
        if stray:
            raise Broken(
                f"{change}: the error names {path!r} but also {stray!r}, which "
                f"are fine:\n{error}\n  document: {document!r}"
            )
        if any(not problem.message.strip() for problem in error.errors):
            raise Broken(f"{change}: an error has no message: {error.errors!r}")

    def _check_secrets(self) -> None:
        self._require_documents()
        auth_type = self.auth_type
        documents = self._flow_or_valid_documents()
        requests = gen.requests()

        def no_leak(data: st.DataObject) -> None:
            document = data.draw(documents)
            request = data.draw(requests)
            malformed = [
                data.draw(gen.malformed_documents(auth_type, examples=self.examples))
                for _ in range(_MALFORMED_SCANNED)
            ]
            with sandbox.captured_output() as captured:
                texts = list(self._texts_of(document, malformed, request))
            texts.extend(captured.texts())
            for where, text in texts:
                for found in gen.find_secrets(text):
                    raise Broken(
                        f"a secret appeared in {where}:\n"
                        f"    {_excerpt(text, found)}\n"
                        "  Keep it in an authplug.Secret and never reveal it "
                        f"outside a request.\n  document: {document!r}"
                    )

        self._property("secrets", st.data(), no_leak)

    def _texts_of(
        self,
        document: dict[str, Any],
        malformed: Sequence[gen.Malformed],
        request: Request,
    ) -> Iterator[tuple[str, str]]:
        auth_type = self.auth_type
        credentials = auth_type.load(document)
        yield "repr(credentials)", repr(credentials)
        yield "str(credentials)", str(credentials)
        for instance in _instances((credentials.user, credentials.app)):
            name = type(instance).__name__
            yield f"repr() of a {name}", repr(instance)
            yield f"str() of a {name}", str(instance)
        masked = auth_type.dump(credentials, reveal_secrets=False)
        yield "dump(reveal_secrets=False)", json.dumps(masked)

        for broken in malformed:
            try:
                auth_type.load(broken.document)
            except ConfigError as error:
                yield f"the error after: {broken.change}", f"{error}\n{error!r}"

        if auth_type.flow is None:
            return
        flow = self._make_flow(credentials, _nonce_sequence())
        yield "repr(flow)", repr(flow)
        yield "str(flow)", str(flow)
        try:
            with sandbox.no_network():
                sandbox.run_flow(flow, request, respond=_unauthorized_first)
        except AuthplugError as error:
            yield f"a {type(error).__name__} the flow raised", f"{error}\n{error!r}"

    def _check_schema(self) -> None:
        try:
            jsonschema: Any = importlib.import_module("jsonschema")
        except ImportError:
            raise ContractSkipped(
                "jsonschema is not installed, so the JSON Schema cannot be "
                "checked; pip install 'authplug[testing]' to check it"
            ) from None

        self._require_documents()
        auth_type = self.auth_type
        try:
            schema = auth_type.json_schema()
        except Exception as exc:
            raise Broken(f"json_schema() raised {type(exc).__name__}: {exc}") from exc
        validator_class = jsonschema.Draft202012Validator
        declared = schema.get("$schema")
        if declared != "https://json-schema.org/draft/2020-12/schema":
            raise Broken(f"the schema declares {declared!r}, not Draft 2020-12")
        try:
            validator_class.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise Broken(
                f"the schema is not valid Draft 2020-12: {exc.message}"
            ) from exc
        validator = validator_class(
            schema, format_checker=validator_class.FORMAT_CHECKER
        )

        def first_problem(document: Any) -> str | None:
            error = jsonschema.exceptions.best_match(validator.iter_errors(document))
            if error is None:
                return None
            return f"at {error.json_path}: {error.message}"

        def satisfied(document: dict[str, Any]) -> None:
            dumped = auth_type.dump(auth_type.load(document))
            for what, data in (("document", document), ("its dump", dumped)):
                problem = first_problem(data)
                if problem is not None:
                    raise Broken(
                        f"a {what} that loads fails the schema {problem}\n"
                        f"  {what}: {data!r}"
                    )

        self._property("schema", self._valid(), satisfied)

        raw = gen.candidate_documents(auth_type, honour_validators=False)
        malformed = gen.malformed_documents(auth_type, examples=self.examples)

        def accepted_loads(data: st.DataObject) -> None:
            near_misses = [data.draw(raw)]
            near_misses.extend(
                data.draw(malformed).document for _ in range(_MALFORMED_SCANNED)
            )
            for document in near_misses:
                if first_problem(document) is not None:
                    continue
                error = gen.load_error(auth_type, document)
                if error is not None:
                    raise Broken(
                        "the schema accepts a document that does not load, so "
                        "a form built from it would take bad input; add the "
                        "rule to the field's json_schema metadata or the "
                        f"model's __authplug_schema__:\n{error}\n"
                        f"  document: {document!r}"
                    )

        self._property("schema", st.data(), accepted_loads)

    # The flow checks.

    def _require_flow(self) -> type[AuthFlow[Any, Any]]:
        flow = self.auth_type.flow
        if flow is None:
            raise ContractSkipped(
                f"{self.auth_type.name!r} has no flow (flow=None), so there is "
                "nothing to apply; the flow checks run once the record has one"
            )
        self._require_documents()
        return flow

    def _flow_or_valid_documents(self) -> st.SearchStrategy[dict[str, Any]]:
        if self.auth_type.flow is None:
            return gen.valid_documents(self.auth_type, examples=self.examples)
        return gen.flow_documents(self.auth_type, examples=self.examples)

    def _apply(
        self,
        credentials: Credentials[Any, Any],
        request: Request,
        *,
        nonce: Callable[[], str],
        respond: sandbox.Responder = sandbox.answer_ok,
        flow: AuthFlow[Any, Any] | None = None,
    ) -> tuple[sandbox.FlowRun | None, str | None]:
        """Apply the flow under the network block; return its run or error."""
        chosen = flow or self._make_flow(credentials, nonce)
        with sandbox.no_network() as attempts:
            try:
                run = sandbox.run_flow(chosen, request, respond=respond)
            except AuthplugError as error:
                return None, f"{type(error).__name__}: {error}"
            except Exception as exc:
                if attempts:
                    raise self._io_violation(attempts) from exc
                raise Broken(
                    f"the flow raised {type(exc).__name__} instead of an authplug "
                    f"error: {exc}\n  request: {_describe(request)}"
                ) from exc
        if attempts:
            raise self._io_violation(attempts)
        return run, None

    @staticmethod
    def _make_flow(
        credentials: Credentials[Any, Any], nonce: Callable[[], str]
    ) -> AuthFlow[Any, Any]:
        """Build the flow; credentials that load must always make one."""
        try:
            return credentials.flow(clock=_fixed_clock, nonce=nonce)
        except Exception as exc:
            raise Broken(
                "credentials that load could not make a flow: "
                f"{type(exc).__name__}: {exc}\n"
                "  Check this in the model, so loading rejects the document.\n"
                f"  credentials: {credentials.dump()!r}"
            ) from exc

    @staticmethod
    def _io_violation(attempts: list[str]) -> Broken:
        return Broken(
            f"the flow did I/O of its own: {', '.join(attempts)}. A flow must "
            "only yield requests and read the responses it is sent back."
        )

    def _flow_inputs(self) -> st.SearchStrategy[tuple[dict[str, Any], Request]]:
        return st.tuples(
            gen.flow_documents(self.auth_type, examples=self.examples),
            gen.requests(),
        )

    def _check_flow_deterministic(self) -> None:
        self._require_flow()
        auth_type = self.auth_type

        def same_twice(drawn: tuple[dict[str, Any], Request]) -> None:
            document, request = drawn
            credentials = auth_type.load(document)
            first, error_1 = self._apply(
                credentials, sandbox.copy_request(request), nonce=_nonce_sequence()
            )
            second, error_2 = self._apply(
                credentials, sandbox.copy_request(request), nonce=_nonce_sequence()
            )
            if error_1 != error_2:
                raise Broken(
                    f"the same request failed differently: {error_1} / {error_2}"
                )
            if first is None or second is None:
                return
            one = [_canonical(sent) for sent in first.sent]
            two = [_canonical(sent) for sent in second.sent]
            if one != two:
                raise Broken(
                    "two identical requests, with the same clock and nonces, "
                    "came out different:\n"
                    f"    {[_describe(r) for r in first.sent]}\n"
                    f"    {[_describe(r) for r in second.sent]}\n"
                    "  Take time and randomness only from self.clock and "
                    f"self.nonce.\n  document: {document!r}"
                )

        self._property("flow_deterministic", self._flow_inputs(), same_twice)

    def _check_flow_idempotent(self) -> None:
        self._require_flow()
        auth_type = self.auth_type
        refusals: list[str] = []

        def once_is_enough(drawn: tuple[dict[str, Any], Request]) -> None:
            document, request = drawn
            credentials = auth_type.load(document)
            flow = self._make_flow(credentials, _constant_nonce)
            first, error = self._apply(
                credentials, request, nonce=_constant_nonce, flow=flow
            )
            if first is None:
                refusals.append(str(error))
                assume(False)
                return
            second, error = self._apply(
                credentials,
                sandbox.copy_request(first.final),
                nonce=_constant_nonce,
                flow=flow,
            )
            if second is None:
                raise Broken(
                    f"the flow applied once, then refused its own result: {error}"
                )
            changes = _repetition(first.final, second.final)
            if changes:
                raise Broken(
                    "applying the flow again to its own result changed the "
                    f"request: {'; '.join(changes)}.\n"
                    "  Replace what an earlier application added; never append."
                    f"\n  after one: {_describe(first.final)}"
                    f"\n  after two: {_describe(second.final)}"
                    f"\n  document: {document!r}"
                )

        def refused() -> str:
            if not refusals:
                return ""
            common, count = Counter(refusals).most_common(1)[0]
            return (
                f"the flow refused {len(refusals)} generated requests, most "
                f"often ({count} times) with {common}"
            )

        self._property(
            "flow_idempotent", self._flow_inputs(), once_is_enough, refused=refused
        )

    def _check_flow_no_io(self) -> None:
        self._require_flow()
        auth_type = self.auth_type

        def no_io(drawn: tuple[dict[str, Any], Request]) -> None:
            document, request = drawn
            credentials = auth_type.load(document)
            for respond in (sandbox.answer_ok, _unauthorized_first):
                self._apply(
                    credentials,
                    sandbox.copy_request(request),
                    nonce=_nonce_sequence(),
                    respond=respond,
                )

        self._property("flow_no_io", self._flow_inputs(), no_io)


def check_auth_type(
    auth_type: AuthType | str,
    *,
    registry: Registry | None = None,
    max_examples: int | None = None,
    examples: Sequence[Mapping[str, Any]] = (),
    checks: Sequence[str] = CHECKS,
) -> ContractReport:
    """Check an auth type against the whole plugin contract.

    Example:
        >>> from authplug.testing import check_auth_type
        >>> def test_contract():
        ...     check_auth_type("acme.key")

    Args:
        auth_type: The type, or a name or alias to resolve in ``registry``.
        registry: Where the type must be registered; the process default
            registry if not given.
        max_examples: Examples per property; by default the
            ``--authplug-examples`` option, else the hypothesis profile.
        examples: Whole documents that must load, checked beside
            generated ones.
        checks: The checks to run; all of :data:`CHECKS` by default.

    Returns:
        What passed and what was skipped, and why.

    Raises:
        ContractViolation: Every rule the type breaks, with examples.
    """
    __tracebackhide__ = True
    contract = Contract(
        auth_type, registry=registry, max_examples=max_examples, examples=examples
    )
    return contract.run(checks)


@pytest.mark.authplug_contract
class AuthTypeContract:
    """Subclass in a test module to check one auth type, a test per rule.

    Set ``auth_type`` to the record or its registered name::

        from authplug.testing import AuthTypeContract

        class TestAcmeKey(AuthTypeContract):
            auth_type = "acme.key"

    Attributes:
        auth_type: The type, or its name or alias.
        registry: Where it must be registered; the default registry if None.
        max_examples: Examples per property, if not the profile's.
        examples: Whole documents that must load, checked beside generated
            ones.
    """

    auth_type: ClassVar[AuthType | str]
    registry: ClassVar[Registry | None] = None
    max_examples: ClassVar[int | None] = None
    examples: ClassVar[Sequence[Mapping[str, Any]]] = ()

    def _check(self, name: str) -> None:
        __tracebackhide__ = True
        chosen = getattr(type(self), "auth_type", None)
        if chosen is None:
            pytest.fail(
                f"{type(self).__name__} must set auth_type to an AuthType or "
                "the name of one",
                pytrace=False,
            )
        contract = Contract(
            chosen,
            registry=self.registry,
            max_examples=self.max_examples,
            examples=self.examples,
        )
        try:
            contract.check(name)
        except ContractSkipped as skip:
            pytest.skip(skip.reason)

    def test_names(self) -> None:
        """Name and aliases are well formed and unique in the registry."""
        __tracebackhide__ = True
        self._check("names")

    def test_models(self) -> None:
        """The models are frozen, keyword-only attrs classes."""
        __tracebackhide__ = True
        self._check("models")

    def test_generation(self) -> None:
        """Enough generated documents load for the checks to mean something."""
        __tracebackhide__ = True
        self._check("generation")

    def test_round_trip(self) -> None:
        """Loading what dump() gives returns the same credentials."""
        __tracebackhide__ = True
        self._check("round_trip")

    def test_malformed(self) -> None:
        """Every broken field is rejected with its path."""
        __tracebackhide__ = True
        self._check("malformed")

    def test_secrets(self) -> None:
        """No secret in a repr, str, error message, log record or warning."""
        __tracebackhide__ = True
        self._check("secrets")

    def test_schema(self) -> None:
        """The JSON Schema is valid and agrees with loading."""
        __tracebackhide__ = True
        self._check("schema")

    def test_flow_deterministic(self) -> None:
        """A fixed clock and nonce give the same requests every time."""
        __tracebackhide__ = True
        self._check("flow_deterministic")

    def test_flow_idempotent(self) -> None:
        """Applying the flow twice leaves what applying once did."""
        __tracebackhide__ = True
        self._check("flow_idempotent")

    def test_flow_no_io(self) -> None:
        """The flow does no I/O but the requests it yields."""
        __tracebackhide__ = True
        self._check("flow_no_io")
