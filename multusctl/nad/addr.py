"""Small, fast IP address and prefix arithmetic for the validator (stdlib only).

``ipaddress`` objects cost microseconds each to build; validating 10,000 NADs parses
~100,000 addresses, so addresses here are plain ``(version, int)`` pairs parsed by the C
``inet_pton`` (which, like Go's ``net.ParseIP``, rejects IPv4 octets with leading zeros).
"""

from __future__ import annotations

import socket
from typing import NamedTuple

BITS = {4: 32, 6: 128}


class Addr(NamedTuple):
    version: int
    value: int

    def __str__(self) -> str:
        return fmt(self.version, self.value)


class Net(NamedTuple):
    """A prefix: ``first`` is the network address, ``last`` the broadcast / last address."""

    version: int
    first: int
    prefix: int
    last: int

    def __str__(self) -> str:
        return f"{fmt(self.version, self.first)}/{self.prefix}"

    def contains(self, a: Addr) -> bool:
        return a.version == self.version and self.first <= a.value <= self.last

    @property
    def size(self) -> int:
        return self.last - self.first + 1


def parse_ip(text: str) -> Addr | None:
    """An IPv4 or IPv6 address (no zone, no surrounding spaces), or None."""
    try:
        return Addr(4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big"))
    except (OSError, ValueError):
        pass
    try:
        return Addr(6, int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big"))
    except (OSError, ValueError):
        return None


def parse_cidr(text: str) -> tuple[Addr, Net] | None:
    """``address/prefix`` → (the address as written, its network), or None."""
    addr_text, slash, prefix_text = text.partition("/")
    if not slash or not prefix_text.isascii() or not prefix_text.isdigit():
        return None
    addr = parse_ip(addr_text)
    if addr is None:
        return None
    bits = BITS[addr.version]
    prefix = int(prefix_text)
    if prefix > bits:
        return None
    host_mask = (1 << (bits - prefix)) - 1
    first = addr.value & ~host_mask
    return addr, Net(addr.version, first, prefix, first | host_mask)


def fmt(version: int, value: int) -> str:
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    return socket.inet_ntop(family, value.to_bytes(4 if version == 4 else 16, "big"))
