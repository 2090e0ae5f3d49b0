"""The ``k8s.v1.cni.cncf.io/networks`` and ``v1.multus-cni.io/default-network`` annotations.

Pure functions from annotation text to :class:`NetworkSelection` values (stdlib only).
The behaviour follows upstream Multus v4.2.1 (``parsePodNetworkAnnotation``; spec items
ANN-02/03/04/07 and the ECMP check of CORE-14), including its error texts:

* **Text form** (the value contains none of ``[``, ``{``, ``"``): a comma-separated
  list of ``[<namespace>/]<name>[@<ifname>]`` with DNS-1123 label checks on the
  namespace and name and an interface-name check.
* **JSON form**: an array of objects, decoded the way Go's ``encoding/json`` decodes
  into upstream's ``NetworkSelectionElement``. That means keys match case-insensitively,
  unknown keys are ignored, ``null`` leaves a field unset, and the first type mismatch
  is reported with Go's wording (``json: cannot unmarshal number into Go struct field
  NetworkSelectionElement.name of type string``). A malformed document gets Go's
  syntax error text too (``invalid character 'x' looking for beginning of value``,
  ``unexpected end of JSON input``).

Errors: validation failures raise :class:`~multusctl.errors.InvalidConfig` (CNI code
7). Anything upstream reports as "failed to parse pod Network Attachment Selection
Annotation JSON format" raises :class:`~multusctl.errors.DecodeError` (code 6): syntax
errors, type mismatches and invalid ``default-route`` addresses.

Where we differ from upstream (listed in docs/differences.md):

* an annotation made only of whitespace selects no network here; upstream reads it as
  one network with an empty name and then fails to find that NAD;
* a ``null`` element in the JSON array is rejected with an error; upstream crashes
  (nil pointer dereference);
* a ``default-network`` annotation that is an empty JSON array is rejected with an
  error; upstream crashes (index out of range);
* JSON nested deeper than Python's recursion limit allows is rejected; Go accepts up
  to 10000 levels.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from multusctl.errors import DecodeError, InvalidConfig, MultusError
from multusctl.plugin.delegates import is_mac

__all__ = [
    "NetworkSelection",
    "check_gateways",
    "parse_default_network",
    "parse_networks",
]

_PREFIX = "parsePodNetworkAnnotation: "
_JSON_PREFIX = _PREFIX + "failed to parse pod Network Attachment Selection Annotation JSON format: "
_DEFAULT_PREFIX = "tryLoadK8sPodDefaultNetwork: "

#: DNS-1123 label, as upstream's text-form check (no length limit).
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
#: Go's ``unicode.IsSpace`` (what ``strings.TrimSpace`` removes); Python's ``str.strip``
#: would also remove the ASCII separators U+001C..U+001F.
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
#: ``syscall.IFNAMSIZ - 1``.
_MAX_IFNAME_BYTES = 15


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkSelection:
    """One element of the networks annotation (upstream's ``NetworkSelectionElement``)."""

    name: str
    """NAD name (may be empty: an empty text-form item, e.g. a trailing comma)."""
    namespace: str
    """NAD namespace; the pod's (or multusNamespace's) when the annotation gave none."""
    interface: str = ""
    """Requested interface name: JSON ``interface`` (else ``interfaceRequest``), ``@ifname``."""
    ips: tuple[str, ...] = ()
    """Requested addresses, as written (``10.1.1.5`` or ``10.1.1.5/24``)."""
    mac: str = ""
    """Requested MAC address, as written."""
    infiniband_guid: str = ""
    """Requested InfiniBand GUID, as written."""
    port_mappings: tuple[dict[str, Any], ...] | None = None
    """Per-attachment ``portMappings``: ``hostPort``, ``containerPort`` (ints) and the
    non-empty ones of ``protocol``, ``hostIP``. ``()`` (an empty list) is not ``None``."""
    bandwidth: dict[str, Any] | None = None
    """Per-attachment ``bandwidth``: all four of ``ingressRate``, ``ingressBurst``,
    ``egressRate``, ``egressBurst`` (ints, 0 when not given)."""
    cni_args: dict[str, Any] | None = None
    """``cni-args`` object (``{}`` is not ``None``: upstream still injects ``args.cni``)."""
    device_id: str = ""
    """Requested ``deviceID``."""
    default_route: tuple[str, ...] | None = None
    """``default-route`` gateways in Go's text form; ``None`` when the key is absent or
    ``null``, ``()`` when it is an empty list (which still turns gateway filtering on,
    CORE-14). An entry ``""`` stands for Go's nil IP (the JSON gave ``""`` or ``null``)."""

    def to_json(self) -> dict[str, Any]:
        """Upstream's field names, empty values left out (``multusctl explain``)."""
        out: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if self.interface:
            out["interface"] = self.interface
        if self.ips:
            out["ips"] = list(self.ips)
        if self.mac:
            out["mac"] = self.mac
        if self.infiniband_guid:
            out["infiniband-guid"] = self.infiniband_guid
        if self.port_mappings is not None:
            out["portMappings"] = [dict(p) for p in self.port_mappings]
        if self.bandwidth is not None:
            out["bandwidth"] = dict(self.bandwidth)
        if self.cni_args is not None:
            out["cni-args"] = dict(self.cni_args)
        if self.device_id:
            out["deviceID"] = self.device_id
        if self.default_route is not None:
            out["default-route"] = list(self.default_route)
        return out


class _HasDefaultRoute(Protocol):
    @property
    def default_route(self) -> tuple[str, ...] | None: ...


# --------------------------------------------------------------------------- public API


def parse_networks(annotation: str, default_namespace: str) -> list[NetworkSelection]:
    """Parse ``k8s.v1.cni.cncf.io/networks``; elements without namespace get ``default_namespace``.

    An empty or whitespace-only value selects nothing (``[]``).
    """
    if not annotation.strip(_GO_SPACE):
        return []
    return _parse(annotation, default_namespace)


def parse_default_network(annotation: str, multus_namespace: str) -> NetworkSelection:
    """Parse ``v1.multus-cni.io/default-network`` (ANN-07): exactly one network.

    Call it only when the annotation is present: a present but empty value is an error.
    The namespace defaults to ``multus_namespace``.
    """
    try:
        selections = _parse(annotation, multus_namespace)
    except MultusError as exc:
        raise exc.prefixed(_DEFAULT_PREFIX + "failed to parse CRD object: ") from None
    if len(selections) > 1:
        raise InvalidConfig(
            f"{_DEFAULT_PREFIX}more than one default network is specified: {annotation}"
        )
    if not selections:
        raise InvalidConfig(f"{_DEFAULT_PREFIX}no default network is specified: {annotation}")
    return selections[0]


def check_gateways(selections: Iterable[_HasDefaultRoute]) -> None:
    """CORE-14: at most one IPv4 and one IPv6 ``default-route`` gateway over all networks.

    Accepts anything with a ``default_route`` attribute (selections or delegates). A nil
    gateway (``""``) counts as IPv6, as in upstream (``To4() == nil``).
    """
    v4 = v6 = 0
    for selection in selections:
        for gateway in selection.default_route or ():
            if _is_ipv4(gateway):
                v4 += 1
            else:
                v6 += 1
    if v4 > 1 or v6 > 1:
        raise InvalidConfig("multus does not support ECMP for default-route")


# --------------------------------------------------------------------------- parsing


def _parse(annotation: str, default_namespace: str) -> list[NetworkSelection]:
    if annotation == "":
        raise InvalidConfig(_PREFIX + 'pod annotation does not have "network" as key')
    elements: list[dict[str, Any] | None]
    if any(c in annotation for c in '[{"'):
        elements = _decode_json(annotation)
    else:
        elements = [_parse_text_item(item.strip(_GO_SPACE)) for item in annotation.split(",")]
    return [_finish(element, i, default_namespace) for i, element in enumerate(elements)]


def _parse_text_item(item: str) -> dict[str, Any]:
    """One ``[<namespace>/]<name>[@<ifname>]`` item (upstream ``parsePodNetworkObjectName``)."""
    namespace = ""
    slash_items = item.split("/")
    if len(slash_items) == 2:
        namespace = slash_items[0].strip(_GO_SPACE)
        rest = slash_items[1]
    elif len(slash_items) == 1:
        rest = slash_items[0]
    else:
        raise InvalidConfig(
            _PREFIX + "parsePodNetworkObjectName: Invalid network object (failed at '/')"
        )
    at_items = rest.split("@")
    name = at_items[0].strip(_GO_SPACE)
    ifname = ""
    if len(at_items) == 2:
        ifname = at_items[1].strip(_GO_SPACE)
    elif len(at_items) != 1:
        raise InvalidConfig(
            _PREFIX + "parsePodNetworkObjectName: Invalid network object (failed at '@')"
        )
    for part in (namespace, name):
        if part and not _LABEL.fullmatch(part):
            raise InvalidConfig(
                _PREFIX
                + _go_errorf(
                    "parsePodNetworkObjectName: Failed to parse: one or more items did not "
                    "match comma-delimited format (must consist of lower case alphanumeric "
                    "characters). Must start and end with an alphanumeric character), "
                    f"mismatch @ '{part}'"
                )
            )
    if ifname and (
        len(ifname.encode("utf-8", "surrogatepass")) > _MAX_IFNAME_BYTES
        or any(c in ifname for c in " \t\n\v\f\r/")
    ):
        raise InvalidConfig(
            _PREFIX
            + _go_errorf(
                "parsePodNetworkObjectName: Failed to parse interface name: must be less "
                "than 15 chars and not contain '/' or spaces. interface name "
                f"'{ifname}'"
            )
        )
    return {"name": name, "namespace": namespace, "interface": ifname}


def _finish(
    element: Mapping[str, Any] | None, index: int, default_namespace: str
) -> NetworkSelection:
    """Upstream's post-decode loop: namespace default, MAC/GUID/IP checks, ifname alias."""
    if element is None:
        raise InvalidConfig(f"{_PREFIX}element {index} of the network list is null")
    mac = element.get("mac", "")
    if mac and not is_mac(mac):
        raise InvalidConfig(f"{_PREFIX}failed to mac: address {mac}: invalid MAC address")
    guid = element.get("infiniband-guid", "")
    if guid and not is_mac(guid):
        raise InvalidConfig(
            f"{_PREFIX}failed to validate infiniband GUID: address {guid}: invalid MAC address"
        )
    ips: list[str] = element.get("ips") or []
    for ip in ips:
        if "/" in ip:
            if not _valid_cidr(ip):
                raise InvalidConfig(
                    f"failed to parse CIDR {_go_quote(ip)}: invalid CIDR address: {ip}"
                )
        elif _parse_ip(ip) is None:
            raise InvalidConfig(f"failed to parse IP address {_go_quote(ip)}")
    routes = element.get("default-route")
    return NetworkSelection(
        name=element.get("name", ""),
        namespace=element.get("namespace", "") or default_namespace,
        interface=element.get("interface", "") or element.get("interfaceRequest", ""),
        ips=tuple(ips),
        mac=mac,
        infiniband_guid=guid,
        port_mappings=None
        if element.get("portMappings") is None
        else tuple(element["portMappings"]),
        bandwidth=element.get("bandwidth"),
        cni_args=element.get("cni-args"),
        device_id=element.get("deviceID", ""),
        default_route=None if routes is None else tuple(routes),
    )


# --------------------------------------------------------------------------- addresses


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Go ``net.ParseIP``: no zones, no leading zeros in IPv4 fields."""
    if "%" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _go_ip_text(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Go ``net.IP.String()``: IPv4-mapped IPv6 addresses print as IPv4."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def _is_ipv4(text: str) -> bool:
    addr = _parse_ip(text) if text else None
    if addr is None:
        return False
    return isinstance(addr, ipaddress.IPv4Address) or addr.ipv4_mapped is not None


def _valid_cidr(text: str) -> bool:
    """Go ``net.ParseCIDR``: decimal prefix (leading zeros allowed) within the family."""
    address, _, prefix = text.partition("/")
    addr = _parse_ip(address)
    if addr is None or not prefix or not prefix.isascii() or not prefix.isdigit():
        return False
    return int(prefix) <= addr.max_prefixlen


# --------------------------------------------------------------------------- Go text helpers


def _go_quote(text: str) -> str:
    """Go ``strconv.Quote`` (the ``%q`` verb) for the characters annotations carry."""
    short = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    short |= {"\v": "\\v", "\\": "\\\\", '"': '\\"'}
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in short:
            out.append(short[ch])
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _go_errorf(message: str) -> str:
    """What Go's ``fmt.Errorf(message)`` prints when ``message`` is used as the format.

    Upstream pre-formats two messages with ``Sprintf`` and passes the result to its
    ``Errorf`` as the *format*, so a ``%`` in the user's text becomes a verb with no
    argument: ``50%x`` reads ``50%!x(MISSING)``. This follows ``fmt.doPrintf`` with an
    empty argument list.
    """
    out: list[str] = []
    i, end = 0, len(message)
    while i < end:
        j = message.find("%", i)
        if j < 0:
            out.append(message[i:])
            break
        out.append(message[i:j])
        i = j + 1
        while i < end and message[i] in "#0+- ":
            i += 1
        good = True  # any [n] index is bad: there are no arguments
        good, i, after_index = _go_arg_index(message, i, good)
        if i < end and message[i] == "*":
            i += 1
            out.append("%!(BADWIDTH)")
            after_index = False
        else:
            i = _go_parse_num(message, i, end)
        if i + 1 < end and message[i] == ".":
            i += 1
            good, i, after_index = _go_arg_index(message, i, good)
            if i < end and message[i] == "*":
                i += 1
                out.append("%!(BADPREC)")
                after_index = False
            else:
                i = _go_parse_num(message, i, end)
        if not after_index:
            good, i, after_index = _go_arg_index(message, i, good)
        if i >= end:
            out.append("%!(NOVERB)")
            break
        verb = message[i]
        i += 1
        if verb == "%":
            out.append("%")
        elif not good:
            out.append(f"%!{verb}(BADINDEX)")
        else:
            out.append(f"%!{verb}(MISSING)")
    return "".join(out)


def _go_arg_index(text: str, i: int, good: bool) -> tuple[bool, int, bool]:
    """Go fmt's ``argNumber`` with no arguments: ``(still good, new index, well-formed)``."""
    if i >= len(text) or text[i] != "[":
        return good, i, False
    rest = text[i:]
    if len(rest) < 3:
        return False, i + 1, False
    close = rest.find("]", 1)
    if close < 0:
        return False, i + 1, False
    digits = rest[1:close]
    well_formed = digits != "" and all("0" <= c <= "9" for c in digits)
    return False, i + close + 1, well_formed


def _go_parse_num(text: str, i: int, end: int) -> int:
    """Go fmt's ``parsenum``: digits; a number above 1e6 swallows the rest of the format."""
    num = 0
    while i < end and "0" <= text[i] <= "9":
        if num > 1_000_000:
            return end
        num = num * 10 + ord(text[i]) - 48
        i += 1
    return i


# --------------------------------------------------------------------------- Go JSON syntax

_WS = b" \t\r\n"
_MAX_DEPTH = 10000


def _quote_byte(c: int) -> str:
    """Go's ``quoteChar``: a byte shown as Go quotes ``string(rune(c))``."""
    if c == 0x27:
        return "'\\''"
    if c == 0x22:
        return "'\"'"
    return "'" + _go_quote(chr(c))[1:-1] + "'"


def _go_syntax_error(data: bytes) -> str | None:
    """Go ``encoding/json``'s ``checkValid``: ``None`` when valid, else Go's message."""
    scanner = _GoScanner()
    for c in data:
        if not scanner.step(c):
            return scanner.error
    return scanner.eof()


_LITERALS = {  # state: (expected byte, next state, literal)
    "t": ("r", "tr", "true"),
    "tr": ("u", "tru", "true"),
    "tru": ("e", "end", "true"),
    "f": ("a", "fa", "false"),
    "fa": ("l", "fal", "false"),
    "fal": ("s", "fals", "false"),
    "fals": ("e", "end", "false"),
    "n": ("u", "nu", "null"),
    "nu": ("l", "nul", "null"),
    "nul": ("l", "end", "null"),
}
_FIRST = {0x22: "str", 0x2D: "neg", 0x30: "zero", 0x74: "t", 0x66: "f", 0x6E: "n"}
_OBJECT_KEY, _OBJECT_VALUE, _ARRAY_VALUE = 0, 1, 2


class _GoScanner:
    """The state machine of Go's ``encoding/json/scanner.go``, fed one byte at a time.

    ``step`` returns False once the input is invalid; ``error`` then holds Go's text.
    """

    def __init__(self) -> None:
        self.state = "value"
        self.stack: list[int] = []
        self.end_top = False
        self.hex_left = 0
        self.error = ""

    def fail(self, c: int, context: str) -> bool:
        self.error = f"invalid character {_quote_byte(c)} {context}"
        return False

    def eof(self) -> str | None:
        if self.end_top:
            return None
        if not self.step(0x20):
            return self.error
        return None if self.finished() else "unexpected end of JSON input"

    def finished(self) -> bool:
        return self.end_top

    def step(self, c: int) -> bool:
        state = self.state
        if state in ("value", "value_or_empty"):
            if c in _WS:
                return True
            if c == 0x5D and state == "value_or_empty":
                return self.end_value(c)
            return self.begin_value(c)
        if state in ("key_or_empty", "key"):
            return self.begin_key(c)
        if state in ("end", "top"):
            return self.end_value(c)
        if state in ("str", "esc", "hex"):
            return self.in_string(c)
        if state in _LITERALS:
            want, following, word = _LITERALS[state]
            if c != ord(want):
                return self.fail(c, f"in literal {word} (expecting '{want}')")
            self.state = following
            return True
        return self.in_number(c)

    def begin_value(self, c: int) -> bool:
        if c in (0x7B, 0x5B):
            self.stack.append(_OBJECT_KEY if c == 0x7B else _ARRAY_VALUE)
            if len(self.stack) > _MAX_DEPTH:
                return self.fail(c, "exceeded max depth")
            self.state = "key_or_empty" if c == 0x7B else "value_or_empty"
            return True
        if c in _FIRST:
            self.state = _FIRST[c]
            return True
        if 0x31 <= c <= 0x39:
            self.state = "int"
            return True
        return self.fail(c, "looking for beginning of value")

    def begin_key(self, c: int) -> bool:
        if c in _WS:
            return True
        if c == 0x7D and self.state == "key_or_empty":
            self.stack[-1] = _OBJECT_VALUE
            return self.end_value(c)
        if c == 0x22:
            self.state = "str"
            return True
        return self.fail(c, "looking for beginning of object key string")

    def end_value(self, c: int) -> bool:
        if not self.stack:
            self.end_top = True
            self.state = "top"
            return c in _WS or self.fail(c, "after top-level value")
        self.state = "end"
        if c in _WS:
            return True
        top = self.stack[-1]
        if top == _OBJECT_KEY:
            if c != 0x3A:
                return self.fail(c, "after object key")
            self.stack[-1] = _OBJECT_VALUE
            self.state = "value"
        elif top == _OBJECT_VALUE:
            if c == 0x2C:
                self.stack[-1] = _OBJECT_KEY
                self.state = "key"
            elif c == 0x7D:
                self.pop()
            else:
                return self.fail(c, "after object key:value pair")
        elif c == 0x2C:
            self.state = "value"
        elif c == 0x5D:
            self.pop()
        else:
            return self.fail(c, "after array element")
        return True

    def pop(self) -> None:
        self.stack.pop()
        if not self.stack:
            self.end_top = True
            self.state = "top"

    def in_string(self, c: int) -> bool:
        if self.state == "str":
            if c == 0x22:
                self.state = "end"
            elif c == 0x5C:
                self.state = "esc"
            elif c < 0x20:
                return self.fail(c, "in string literal")
        elif self.state == "esc":
            if c in b'bfnrt\\/"':
                self.state = "str"
            elif c == 0x75:
                self.state, self.hex_left = "hex", 4
            else:
                return self.fail(c, "in string escape code")
        elif c in b"0123456789abcdefABCDEF":
            self.hex_left -= 1
            if not self.hex_left:
                self.state = "str"
        else:
            return self.fail(c, "in \\u hexadecimal character escape")
        return True

    def in_number(self, c: int) -> bool:
        state, digit = self.state, 0x30 <= c <= 0x39
        if state == "neg":
            if not digit:
                return self.fail(c, "in numeric literal")
            self.state = "zero" if c == 0x30 else "int"
        elif state in ("int", "zero", "dot0") and digit and state != "zero":
            pass
        elif state in ("int", "zero", "dot0"):
            if c == 0x2E and state != "dot0":
                self.state = "dot"
            elif c in b"eE":
                self.state = "e"
            else:
                return self.end_value(c)
        elif state == "dot":
            if not digit:
                return self.fail(c, "after decimal point in numeric literal")
            self.state = "dot0"
        elif state in ("e", "esign"):
            if state == "e" and c in b"+-":
                self.state = "esign"
            elif digit:
                self.state = "e0"
            else:
                return self.fail(c, "in exponent of numeric literal")
        elif not digit:  # e0
            return self.end_value(c)
        return True


# --------------------------------------------------------------------------- Go JSON decoding


class _Num:
    """A JSON number with its literal text (Go reports it in some errors)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _Obj(list[tuple[str, Any]]):
    """A JSON object as its key/value pairs in document order."""


class _Immediate(Exception):
    """An error Go's decoder returns at once (a TextUnmarshaler failed)."""


def _kind(value: object) -> str:
    """The JSON kind word of Go's ``UnmarshalTypeError.Value``."""
    if isinstance(value, _Obj):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number"


def _fold(key: str) -> str:
    """Go's key folding for struct fields: ASCII case, plus long s and the Kelvin sign.

    (``str.upper`` would be wrong: it maps e.g. dotless i to ``I``, which Go does not.)
    """
    if key.isascii():
        return key.upper()
    out = []
    for ch in key:
        if "a" <= ch <= "z":
            out.append(chr(ord(ch) - 32))
        elif ch == "\u017f":
            out.append("S")
        elif ch == "\u212a":
            out.append("K")
        else:
            out.append(ch)
    return "".join(out)


def _clean(text: str) -> str:
    """Lone surrogates (from ``\\ud800`` escapes) become U+FFFD, as Go decodes them."""
    return re.sub("[\ud800-\udfff]", "\ufffd", text)


class _Decoder:
    """Go ``json.Unmarshal`` into ``[]*NetworkSelectionElement`` over parsed JSON values.

    The first type mismatch is remembered and reported after decoding ends (Go's
    ``saveError``); an invalid ``default-route`` address aborts at once.
    """

    _STRING_FIELDS = (
        "name", "namespace", "mac", "infiniband-guid", "interface", "interfaceRequest",
        "deviceID",
    )  # fmt: skip
    _ELEMENT_FIELDS = (*_STRING_FIELDS, "ips", "portMappings", "bandwidth", "cni-args",
                       "default-route")  # fmt: skip

    def __init__(self) -> None:
        self.saved: str | None = None

    def save(self, kind: str, go_type: str, struct: str = "", field: str = "") -> None:
        if self.saved is not None:
            return
        if struct or field:
            self.saved = (
                f"json: cannot unmarshal {kind} into Go struct field {struct}.{field} "
                f"of type {go_type}"
            )
        else:
            self.saved = f"json: cannot unmarshal {kind} into Go value of type {go_type}"

    def top(self, value: Any) -> list[dict[str, Any] | None]:
        if not isinstance(value, list) or isinstance(value, _Obj):
            if value is not None:
                self.save(_kind(value), "[]*types.NetworkSelectionElement")
            return []
        elements: list[dict[str, Any] | None] = []
        for item in value:
            if item is None:
                elements.append(None)  # a nil pointer: rejected by _finish
            elif isinstance(item, _Obj):
                elements.append(self.element(item))
            else:
                self.save(_kind(item), "types.NetworkSelectionElement")
                elements.append({})
        return elements

    def element(self, obj: _Obj) -> dict[str, Any]:
        fields = _ELEMENT_FOLDED
        out: dict[str, Any] = {}
        for key, value in obj:
            name = fields.get(_fold(key))
            if name is None:
                continue
            context = ("NetworkSelectionElement", name)
            if name in self._STRING_FIELDS:
                self.string(out, name, value, context)
            elif name == "ips":
                self.string_list(out, value, context)
            elif name == "portMappings":
                self.port_mappings(out, value)
            elif name == "bandwidth":
                self.bandwidth(out, value)
            elif name == "cni-args":
                self.cni_args(out, value)
            else:
                self.default_route(out, value)
        return out

    def string(self, out: dict[str, Any], key: str, value: Any, ctx: tuple[str, str]) -> None:
        if isinstance(value, str):
            out[key] = _clean(value)
        elif value is not None:
            self.save(_kind(value), "string", *ctx)

    def integer(self, out: dict[str, Any], key: str, value: Any, ctx: tuple[str, str]) -> None:
        if isinstance(value, _Num):
            if re.fullmatch(r"-?[0-9]+", value.text) and -(2**63) <= int(value.text) < 2**63:
                out[key] = int(value.text)
            else:
                self.save(f"number {value.text}", "int", *ctx)
        elif value is not None:
            self.save(_kind(value), "int", *ctx)

    def string_list(self, out: dict[str, Any], value: Any, ctx: tuple[str, str]) -> None:
        if value is None:
            out.pop("ips", None)
        elif not isinstance(value, list) or isinstance(value, _Obj):
            self.save(_kind(value), "[]string", *ctx)
        else:
            items: list[str] = []
            for item in value:
                holder: dict[str, Any] = {"v": ""}
                self.string(holder, "v", item, ctx)
                items.append(holder["v"])
            out["ips"] = items

    def port_mappings(self, out: dict[str, Any], value: Any) -> None:
        ctx = ("NetworkSelectionElement", "portMappings")
        if value is None:
            out.pop("portMappings", None)
            return
        if not isinstance(value, list) or isinstance(value, _Obj):
            self.save(_kind(value), "[]*types.PortMapEntry", *ctx)
            return
        entries: list[dict[str, Any]] = []
        for item in value:
            entry: dict[str, Any] = {"hostPort": 0, "containerPort": 0}
            if isinstance(item, _Obj):
                names = _PORT_FOLDED
                for key, field_value in item:
                    name = names.get(_fold(key))
                    if name is None:
                        continue
                    inner = ("PortMapEntry", f"portMappings.{name}")
                    if name in ("hostPort", "containerPort"):
                        self.integer(entry, name, field_value, inner)
                    else:
                        self.string(entry, name, field_value, inner)
            elif item is not None:  # null: a nil entry, which the plugin reads as zeros
                self.save(_kind(item), "types.PortMapEntry", *ctx)
            entries.append({k: v for k, v in entry.items() if v != "" or k.endswith("Port")})
        out["portMappings"] = entries

    def bandwidth(self, out: dict[str, Any], value: Any) -> None:
        keys = ("ingressRate", "ingressBurst", "egressRate", "egressBurst")
        if value is None:
            out.pop("bandwidth", None)
            return
        if not isinstance(value, _Obj):
            self.save(_kind(value), "types.BandwidthEntry", "NetworkSelectionElement",
                      "bandwidth")  # fmt: skip
            return
        entry = out.get("bandwidth") or dict.fromkeys(keys, 0)
        names = _BANDWIDTH_FOLDED
        for key, field_value in value:
            name = names.get(_fold(key))
            if name is not None:
                self.integer(entry, name, field_value, ("BandwidthEntry", f"bandwidth.{name}"))
        out["bandwidth"] = entry

    def cni_args(self, out: dict[str, Any], value: Any) -> None:
        if value is None:
            out.pop("cni-args", None)
            return
        if not isinstance(value, _Obj):
            self.save(_kind(value), "map[string]interface {}", "NetworkSelectionElement",
                      "cni-args")  # fmt: skip
            return
        args = out.get("cni-args") or {}
        for key, item in value:
            args[_clean(key)] = self.plain(item)
        out["cni-args"] = args

    def plain(self, value: Any) -> Any:
        """An ``interface{}`` value: numbers become float64 (integral ones stay ints)."""
        if isinstance(value, _Obj):
            return {_clean(k): self.plain(v) for k, v in value}
        if isinstance(value, list):
            return [self.plain(v) for v in value]
        if isinstance(value, str):
            return _clean(value)
        if isinstance(value, _Num):
            number = float(value.text)
            if number in (float("inf"), float("-inf")):
                self.save(f"number {value.text}", "float64", "NetworkSelectionElement",
                          "cni-args")  # fmt: skip
                return 0
            if number.is_integer() and abs(number) < 1e21:
                return int(Decimal(repr(number)))
            return number
        return value

    def default_route(self, out: dict[str, Any], value: Any) -> None:
        if value is None:
            out.pop("default-route", None)
            return
        if not isinstance(value, list) or isinstance(value, _Obj):
            self.save(_kind(value), "[]net.IP", "NetworkSelectionElement", "default-route")
            return
        gateways: list[str] = []
        for item in value:
            if item is None or item == "":
                gateways.append("")
            elif isinstance(item, str):
                addr = _parse_ip(item)
                if addr is None:
                    raise _Immediate(f"invalid IP address: {_clean(item)}")
                gateways.append(_go_ip_text(addr))
            else:
                self.save(_kind(item), "net.IP", "NetworkSelectionElement", "default-route")
                gateways.append("")
        out["default-route"] = gateways


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_ELEMENT_FOLDED = {_fold(n): n for n in _Decoder._ELEMENT_FIELDS}
_PORT_FOLDED = {_fold(n): n for n in ("hostPort", "containerPort", "protocol", "hostIP")}
_BANDWIDTH_FOLDED = {
    _fold(n): n for n in ("ingressRate", "ingressBurst", "egressRate", "egressBurst")
}


def _decode_json(annotation: str) -> list[dict[str, Any] | None]:
    # Python's decoder accepts exactly the documents Go's does once NaN/Infinity are
    # refused, so the (slow, byte-by-byte) Go scanner only runs to word an error.
    try:
        value = json.loads(
            annotation,
            object_pairs_hook=_Obj,
            parse_int=_Num,
            parse_float=_Num,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError):
        syntax = _go_syntax_error(annotation.encode("utf-8", "surrogatepass"))
        raise DecodeError(_JSON_PREFIX + (syntax or "nested too deeply")) from None
    decoder = _Decoder()
    try:
        elements = decoder.top(value)
    except _Immediate as exc:
        raise DecodeError(_JSON_PREFIX + str(exc)) from None
    if decoder.saved is not None:
        raise DecodeError(_JSON_PREFIX + decoder.saved)
    return elements
