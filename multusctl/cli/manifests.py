"""Read Kubernetes manifests from files, directories and stdin into labelled objects.

YAML is read through libyaml's event parser and assembled here, which is several times
faster than PyYAML's node composer for the plain manifests NADs are written as. Anything
unusual (anchors, aliases, explicit tags, merge keys) falls back to PyYAML's safe loader,
so the result is always what ``yaml.safe_load_all`` would give.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from multusctl.errors import CniCode, ExitStatus, MultusError

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json",)
STDIN = "-"
STDIN_LABEL = "<stdin>"


class InputError(MultusError):
    """An input could not be read or parsed (exit status 2, one line)."""

    cni_code = CniCode.IO_FAILURE
    exit_status = ExitStatus.USAGE


@dataclasses.dataclass(frozen=True, slots=True)
class Document:
    """One object from an input, with the label findings will carry."""

    label: str
    obj: object


def expand(paths: list[str]) -> tuple[list[str], list[str]]:
    """Expand directories (recursively, sorted) into their YAML/JSON files.

    Returns the file list (``-`` kept as is) and notes for directories with nothing in them.
    """
    files: list[str] = []
    notes: list[str] = []
    for raw in paths:
        if raw == STDIN:
            files.append(raw)
            continue
        if os.path.isdir(raw):
            found = sorted(_walk(raw))
            if not found:
                notes.append(f"{raw}: no *.yaml, *.yml or *.json files in this directory")
            files.extend(found)
        else:
            files.append(raw)
    return files, notes


def _walk(top: str) -> Iterator[str]:
    for root, dirs, names in os.walk(top, followlinks=False):
        dirs.sort()
        for name in names:
            if name.endswith(YAML_SUFFIXES + JSON_SUFFIXES):
                yield str(Path(root, name))


def read_text(path: str, stdin_text: str | None) -> str:
    """The text of ``path`` (``stdin_text`` for ``-``), or :class:`InputError`."""
    if path == STDIN:
        return stdin_text or ""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"cannot read {path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"cannot read {path}: is a directory") from None
    except PermissionError:
        raise InputError(f"cannot read {path}: permission denied") from None
    except UnicodeDecodeError as err:
        raise InputError(f"cannot read {path}: not UTF-8 text ({err.reason})") from None
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None


def parse(path: str, text: str) -> list[object]:
    """Parse one input into its documents (JSON for ``*.json``, YAML otherwise)."""
    shown = STDIN_LABEL if path == STDIN else path
    if path.endswith(JSON_SUFFIXES):
        try:
            return [json.loads(text)]
        except json.JSONDecodeError as err:
            raise InputError(
                f"{shown}: invalid JSON at line {err.lineno} column {err.colno}: {err.msg}"
            ) from None
        except RecursionError:
            raise InputError(f"{shown}: JSON nests too deeply") from None
    import yaml

    try:
        return load_all(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = err.problem or err.context or "malformed YAML"
        raise InputError(f"{shown}: invalid YAML{where}: {problem}") from None
    except yaml.YAMLError as err:
        raise InputError(f"{shown}: invalid YAML: {' '.join(str(err).split())}") from None
    except RecursionError:
        raise InputError(f"{shown}: YAML nests too deeply") from None


def documents(path: str, docs: list[object]) -> Iterator[Document]:
    """Label documents ``file:N`` (1-based); ``List`` items become ``file:N.items[i]``."""
    shown = STDIN_LABEL if path == STDIN else path
    for index, doc in enumerate(docs, start=1):
        label = f"{shown}:{index}"
        if isinstance(doc, dict) and _is_list(doc):
            for i, item in enumerate(doc["items"]):
                yield Document(f"{label}.items[{i}]", item)
        else:
            yield Document(label, doc)


def _is_list(doc: dict[str, Any]) -> bool:
    kind = doc.get("kind")
    return isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list)


# --- fast YAML ----------------------------------------------------------------------------


class _Unusual(Exception):
    """The stream uses a feature the fast path does not build; use PyYAML's loader."""


def load_all(text: str) -> list[Any]:
    """``yaml.safe_load_all`` semantics, faster for plain manifests."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return _fast_load_all(text, loader)
    except _Unusual:
        return list(yaml.load_all(text, Loader=loader))


def _fast_load_all(text: str, loader_cls: Any) -> list[Any]:
    import yaml

    loader = loader_cls(text)
    try:
        return _Builder(yaml).run(loader.get_event)
    finally:
        loader.dispose()


class _Builder:
    """Assemble Python values from a libyaml event stream (plain manifests only)."""

    def __init__(self, yaml: Any) -> None:
        from yaml import events

        self.yaml = yaml
        self.ev = events
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()
        self.plain_cache: dict[str, Any] = {}
        table = self.resolver.yaml_implicit_resolvers
        # First characters that some implicit resolver (bool, int, null, …) claims; with a
        # wildcard resolver (key None) every scalar must go through the resolver.
        self.resolvable_first: frozenset[str] | _Everything = (
            _Everything() if None in table else frozenset(k for k in table if k)
        )

    def plain(self, value: str) -> Any:
        """Resolve an untagged plain scalar as the safe loader does (null, bool, int, …)."""
        if value and value[0] not in self.resolvable_first:
            return value  # no implicit resolver starts with this character: a string
        try:
            return self.plain_cache[value]
        except KeyError:
            pass
        tag = self.resolver.resolve(self.yaml.ScalarNode, value, (True, False))
        if tag == _STR_TAG:
            result: Any = value
        elif tag == _MERGE_TAG:
            raise _Unusual
        else:
            result = self.constructor.construct_object(self.yaml.ScalarNode(tag, value))
        self.plain_cache[value] = result
        return result

    def run(self, get_event: Any) -> list[Any]:  # noqa: PLR0915 - one flat loop is the point
        """Consume events until the stream ends; one value per document."""
        ev = self.ev
        scalar_event, alias_event = ev.ScalarEvent, ev.AliasEvent
        map_start, seq_start = ev.MappingStartEvent, ev.SequenceStartEvent
        map_end, seq_end = ev.MappingEndEvent, ev.SequenceEndEvent
        doc_end, stream_end = ev.DocumentEndEvent, ev.StreamEndEvent
        plain = self.plain
        docs: list[Any] = []
        root: list[Any] = []
        # Open containers; for mappings a pending key (or _MISSING) rides along.
        stack: list[list[Any]] = []
        while True:
            event = get_event()
            cls = type(event)
            if cls is scalar_event:
                if event.anchor is not None:
                    raise _Unusual
                if not event.style and event.implicit[0]:
                    value: Any = plain(event.value)
                elif event.tag is None or event.tag == "!" or event.implicit[1]:
                    value = event.value
                else:
                    raise _Unusual  # explicit tag such as !!int "5"
            elif cls is map_start or cls is seq_start:
                if event.anchor is not None or not event.implicit:
                    raise _Unusual
                stack.append([{} if cls is map_start else [], _MISSING])
                continue
            elif cls is map_end or cls is seq_end:
                value = stack.pop()[0]
            elif cls is doc_end:
                docs.append(root.pop() if root else None)
                continue
            elif cls is stream_end:
                return docs
            elif cls is alias_event:
                raise _Unusual
            else:
                continue  # stream / document start
            # attach ``value`` to its parent
            if not stack:
                root.append(value)
                continue
            frame = stack[-1]
            container = frame[0]
            if type(container) is list:
                container.append(value)
            elif frame[1] is _MISSING:
                if isinstance(value, list | dict):
                    raise _Unusual  # complex keys
                frame[1] = value
            else:
                container[frame[1]] = value
                frame[1] = _MISSING


class _Everything:
    def __contains__(self, item: object) -> bool:
        return True


_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MISSING = object()
