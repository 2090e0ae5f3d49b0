"""Names for the JSON shapes that cross module boundaries (stdlib only, base layer).

Values are plain ``dict``/``list`` objects as :func:`json.loads` returns them; the
TypedDicts below only document (and let mypy check) the keys a shape may carry. Keys
that libcni marks ``omitempty`` are optional here (``total=False``).
"""

from __future__ import annotations

from typing import Any, Required, TypeAlias, TypedDict

#: Any JSON value (what :func:`json.loads` may return).
JSONValue: TypeAlias = dict[str, Any] | list[Any] | str | int | float | bool | None
#: A JSON object.
JSONObject: TypeAlias = dict[str, Any]


def kind_of(value: object) -> str:
    """Name a JSON value's type the way a user reads it, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# --------------------------------------------------------------------------- CNI results


class DNS(TypedDict, total=False):
    """``dns`` of every result version."""

    nameservers: list[str]
    domain: str
    search: list[str]
    options: list[str]


class Route(TypedDict, total=False):
    """A route (``routes[]``; ``ip4.routes[]``/``ip6.routes[]`` in 0.1.0/0.2.0).

    ``mtu``, ``advmss``, ``priority``, ``table`` and ``scope`` are the 1.1.0 additions;
    libcni shares one route type between all versions, so they survive a conversion
    to 0.3.x/0.4.0 but not to 0.1.0/0.2.0.
    """

    dst: Required[str]
    gw: str
    mtu: int
    advmss: int
    priority: int
    table: int
    scope: int


class IPConfig020(TypedDict, total=False):
    """``ip4``/``ip6`` of a 0.1.0/0.2.0 result."""

    ip: Required[str]
    gateway: str
    routes: list[Route]


class Result020(TypedDict, total=False):
    """A 0.1.0/0.2.0 result (at least one of ``ip4``/``ip6``)."""

    cniVersion: str
    ip4: IPConfig020
    ip6: IPConfig020
    dns: DNS


class Interface040(TypedDict, total=False):
    """``interfaces[]`` of a 0.3.0/0.3.1/0.4.0 result."""

    name: Required[str]
    mac: str
    sandbox: str


class IPConfig040(TypedDict, total=False):
    """``ips[]`` of a 0.3.0/0.3.1/0.4.0 result; ``version`` is ``"4"`` or ``"6"``."""

    version: Required[str]
    interface: int
    address: Required[str]
    gateway: str


class Result040(TypedDict, total=False):
    """A 0.3.0/0.3.1/0.4.0 result (``dns`` is always printed, possibly ``{}``)."""

    cniVersion: str
    interfaces: list[Interface040]
    ips: list[IPConfig040]
    routes: list[Route]
    dns: DNS


class Interface100(TypedDict, total=False):
    """``interfaces[]`` of a 1.0.0/1.1.0 result (``mtu``, ``socketPath``, ``pciID``: 1.1.0)."""

    name: Required[str]
    mac: str
    mtu: int
    sandbox: str
    socketPath: str
    pciID: str


class IPConfig100(TypedDict, total=False):
    """``ips[]`` of a 1.0.0/1.1.0 result: no ``version`` field any more."""

    interface: int
    address: Required[str]
    gateway: str


class Result100(TypedDict, total=False):
    """A 1.0.0/1.1.0 result (libcni leaves ``dns`` out when it is empty)."""

    cniVersion: str
    interfaces: list[Interface100]
    ips: list[IPConfig100]
    routes: list[Route]
    dns: DNS


#: A result of any supported version.
Result: TypeAlias = Result020 | Result040 | Result100


class CniErrorJSON(TypedDict, total=False):
    """The error object a plugin prints on stdout when it fails."""

    cniVersion: str
    code: Required[int]
    msg: Required[str]
    details: str
