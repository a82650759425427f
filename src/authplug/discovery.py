"""Find the entry points of installed plugins, cheaply.

:mod:`importlib.metadata` finds them, but importing it (with the ``email``,
``zipfile`` and ``pathlib`` machinery it loads) takes longer than building
the rest of the registry, and every program that builds one pays it.
Plugins are nearly always installed as a ``<name>-<version>.dist-info`` (or
``.egg-info``) folder in a directory on :data:`sys.path`; for that case this
module reads the same files by the same rules that ``importlib.metadata``
follows:

- the directories on ``sys.path`` in order (``""`` is the working
  directory), the metadata folders of each in the order the directory
  lists them, grouped by normalized distribution name;
- a distribution found twice counts once: where it is first found;
- ``entry_points.txt`` is read as sections of ``name = value`` lines;
- the distribution's name and version come from the headers of its
  ``METADATA`` (or ``PKG-INFO``) file, and are read only for distributions
  that have an entry point in the group.

Anything else (a zip file or an egg on ``sys.path``, or a finder on
:data:`sys.meta_path` that finds distributions of its own) is left to
``importlib.metadata`` itself, so the answer is the same either way.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import re
import sys
from collections.abc import Iterator

__all__ = ["FoundEntryPoint", "find_entry_points"]

_INFO_SUFFIXES = (".dist-info", ".egg-info")

# The entry point value: a module, then optionally ":" and a dotted object,
# then optionally extras in brackets (ignored).
_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?(\[.*\]\s*)?$")


class FoundEntryPoint:
    """One entry point of the group, with the distribution it belongs to.

    Attributes:
        name: The entry point's name.
        value: What it points at, ``module`` or ``module:object``.
        distribution: The distribution's name, if its metadata says.
        version: The distribution's version, if its metadata says.
    """

    __slots__ = ("distribution", "name", "value", "version")

    def __init__(
        self, name: str, value: str, distribution: str | None, version: str | None
    ) -> None:
        self.name = name
        self.value = value
        self.distribution = distribution
        self.version = version

    def load(self) -> object:
        """Import the module and return the object the entry point names."""
        match = _VALUE.match(self.value)
        if match is None:
            raise ValueError(
                f"entry point {self.name!r} = {self.value!r} is not "
                "'module' or 'module:object'"
            )

        found: object = importlib.import_module(match["module"])
        for part in (match["attr"] or "").split("."):
            if part:
                found = getattr(found, part)
        return found

    def __repr__(self) -> str:
        return f"FoundEntryPoint({self.name!r}, {self.value!r})"


def find_entry_points(group: str) -> list[FoundEntryPoint]:
    """Return every installed entry point of ``group``, in discovery order."""
    directories = _plain_directories()
    if directories is None:
        return _from_importlib_metadata(group)

    found: list[FoundEntryPoint] = []
    seen: set[str] = set()
    for info in _metadata_folders(directories):
        key = _normalized_key(info)
        if key in seen:
            continue
        seen.add(key)
        found.extend(_entry_points_of(info, group))
    return found


def _plain_directories() -> list[str] | None:
    """Return the directories to search, or None if this module cannot."""
    for finder in sys.meta_path:
        own = getattr(finder, "find_distributions", None)
        if own is not None and finder is not importlib.machinery.PathFinder:
            return None

    directories = []
    for entry in sys.path:
        if not isinstance(entry, str):
            return None
        root = entry or "."
        if os.path.isdir(root):
            if os.path.basename(root).lower().endswith(".egg"):
                return None
            directories.append(root)
        elif os.path.exists(root):  # a zip file, read by importlib.metadata
            return None
    return directories


def _metadata_folders(directories: list[str]) -> Iterator[str]:
    for directory in directories:
        try:
            children = os.listdir(directory)
        except OSError:
            continue

        by_name: dict[str, list[str]] = {}
        for child in children:
            low = child.lower()
            if low.endswith(_INFO_SUFFIXES):
                name = _normalize(low.rpartition(".")[0].partition("-")[0])
                by_name.setdefault(name, []).append(os.path.join(directory, child))
        for folders in by_name.values():
            yield from folders


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _normalized_key(info: str) -> str:
    stem, dot, suffix = os.path.basename(info).rpartition(".")
    if f"{dot}{suffix}" in _INFO_SUFFIXES:
        return _normalize(stem.partition("-")[0])
    # Only a folder whose suffix is not in lower case gets here.
    name = _metadata_of(info)[0]
    return _normalize(name or "")


def _read(info: str, filename: str) -> str | None:
    try:
        with open(os.path.join(info, filename), encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError):
        return None


def _entry_points_of(info: str, group: str) -> list[FoundEntryPoint]:
    text = _read(info, "entry_points.txt")
    if not text:
        return []

    pairs: list[tuple[str, str]] = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
            continue
        if section == group:
            name, equals, value = line.partition("=")
            # importlib.metadata fails on a line without "="; skip it.
            if equals:
                pairs.append((name.strip(), value.strip()))
    if not pairs:
        return []

    distribution, version = _metadata_of(info)
    return [
        FoundEntryPoint(name, value, distribution, version) for name, value in pairs
    ]


def _metadata_of(info: str) -> tuple[str | None, str | None]:
    """Return the Name and Version headers of a distribution's metadata."""
    text = _read(info, "METADATA") or _read(info, "PKG-INFO") or ""
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the headers end at the first blank line
        if line[0] in " \t":
            continue  # a folded line continues the header before it
        key, colon, value = line.partition(":")
        if not colon:
            break
        headers.setdefault(key.strip().lower(), value.lstrip(" \t"))
    return headers.get("name"), headers.get("version")


def _from_importlib_metadata(group: str) -> list[FoundEntryPoint]:
    from importlib.metadata import entry_points

    found = []
    # One distribution often has several entry points; parse its metadata
    # once (keyed by the distribution object's id).
    origins: dict[int, tuple[str | None, str | None]] = {}
    for entry_point in entry_points(group=group):
        dist = entry_point.dist
        origin: tuple[str | None, str | None] = (None, None)
        if dist is not None:
            if id(dist) not in origins:
                metadata = dist.metadata
                origins[id(dist)] = (metadata["Name"], metadata["Version"])
            origin = origins[id(dist)]
        found.append(FoundEntryPoint(entry_point.name, entry_point.value, *origin))
    return found
