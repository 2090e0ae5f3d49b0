"""``multusctl install``: put the ``multus`` plugin, its config and kubeconfig on a node.

With ``shim`` it also installs thick mode's ``multus-shim`` in the same layout: a second
launcher (python) or a symlink into a published copy of the frozen shim build (frozen).

The node executes CNI plugins outside any container, so what lands in ``--cni-bin-dir``
must run with what the host has. Two layouts (docs/node-install.md has the measurements):

* ``python``: ``<bin>/multus`` is a launcher script run by the host's own ``python3``
  (>= 3.11, with ``-I -S``), importing a private copy of the package from
  ``<bin>/multusctl.d/python-<hash>/``. Fastest start-up; needs the host's interpreter.
* ``frozen``: ``<bin>/multus`` is a symlink to ``multusctl.d/frozen-<hash>/multus``, the
  PyInstaller ``--onedir`` build (``scripts/build-node-binary.sh``) with its own
  interpreter. Needs nothing from the host.

``auto`` picks ``python`` when the host has a suitable interpreter, else ``frozen``.

Every tree is published under a content-addressed name by building it in a hidden
staging directory and renaming it into place; the entry point ``<bin>/multus`` is then
replaced in one rename. A runtime executing the plugin at that moment sees the old
version or the new one, never a mix, and never "text file busy".

Trees no entry point uses any more are removed after the switch, except that the tree the
shim ran from before an upgrade is kept until the next run: a shim started before the
switch may still be waiting (up to 60 s) for the daemon.

``<bin>/multusctl.d/install.json`` records what was written (host paths, hashes);
``uninstall`` removes exactly those. Running ``install`` twice changes nothing the second
time, and ``dry_run`` reports the same plan without touching anything.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import marshal
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from multusctl import __version__, fsutil
from multusctl.config.generate import OWN_OUTPUTS, GenerateOptions, generate, select_master
from multusctl.config.kubeconfig import KubeconfigInputs, render_kubeconfig
from multusctl.errors import InvalidConfig, IOFailure, MultusError

Layout = Literal["auto", "python", "frozen"]
LAYOUTS: tuple[str, ...] = ("auto", "python", "frozen")

#: Directory in ``--cni-bin-dir`` holding our trees and the install record.
PRIVATE_DIR = "multusctl.d"
#: The install record inside PRIVATE_DIR.
RECORD = "install.json"
#: Where the image keeps the frozen build (``<dir>/multus`` + ``<dir>/_internal``).
DEFAULT_FROZEN_DIR = "/usr/src/multus-cni/frozen/multus"
#: Where the image keeps the frozen shim (``<dir>/multus-shim`` + ``<dir>/_internal``).
DEFAULT_FROZEN_SHIM_DIR = "/usr/src/multus-cni/frozen/multus-shim"
#: The entry points in ``--cni-bin-dir``: the thin plugin and thick mode's shim.
PLUGIN = "multus"
SHIM = "multus-shim"
#: What ``multusctl.bin.shim`` imports from the package (the rest is the stdlib): the whole
#: python tree of a shim-only install.
SHIM_SOURCES = ("multusctl/__init__.py", "multusctl/bin/__init__.py", "multusctl/bin/shim.py")
#: Name prefixes of the trees install publishes (and prunes) in PRIVATE_DIR.
TREE_PREFIXES = ("python-", "frozen-", "shim-")
#: Host interpreters tried in this order (host paths).
PYTHON_CANDIDATES = (
    "/usr/bin/python3",
    "/usr/local/bin/python3",
    "/usr/bin/python3.13",
    "/usr/bin/python3.12",
    "/usr/bin/python3.11",
)
MIN_PYTHON = (3, 11)
#: stdlib modules the plugin needs beyond the interpreter's core (API access, netns).
NEEDED_STDLIB = ("ssl", "json", "ctypes", "http.client")
_LAUNCHER_MARK = "# multusctl node launcher"
#: Third-party packages the plugin imports lazily, copied next to the package: PyYAML
#: (YAML kubeconfigs), grpc + protobuf (kubelet PodResources, for resourceName NADs) and
#: grpc's typing_extensions.
#: Their C extensions are kept only when built for the host interpreter's version.
VENDORED = ("yaml", "grpc", "google.protobuf", "typing_extensions")


@dataclass(frozen=True, slots=True, kw_only=True)
class KubeconfigSource:
    """Where the kubeconfig comes from: a file to copy, or a service-account token."""

    copy_from: str = ""
    """An existing kubeconfig to install as is. Default: unset (render one)."""
    host: str = ""
    """API server host for the rendered kubeconfig (``KUBERNETES_SERVICE_HOST``)."""
    port: str = ""
    """API server port (``KUBERNETES_SERVICE_PORT``)."""
    protocol: str = "https"
    """URL scheme (``KUBERNETES_SERVICE_PROTOCOL``). Default: ``https``."""
    token_file: str = ""
    """Bearer token file (a service account's token)."""
    ca_file: str = ""
    """CA bundle to embed. Default: unset (then ``skip_tls_verify`` must be set)."""
    skip_tls_verify: bool = False
    """Write ``insecure-skip-tls-verify: true``. Default: false."""
    mode: int = 0o600
    """File mode. Default: 0600."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InstallOptions:
    """Every ``multusctl install`` option. Paths are as this process sees them; with
    ``host_root`` set (a container with the host mounted), host paths are derived."""

    cni_bin_dir: str = "/opt/cni/bin"
    """Where the plugin goes. Default: ``/opt/cni/bin``."""
    cni_conf_dir: str = "/etc/cni/net.d"
    """Where ``00-multus.conf`` and ``multus.d/multus.kubeconfig`` go.
    Default: ``/etc/cni/net.d``."""
    multus_autoconfig_dir: str = ""
    """Where the master CNI config is looked for. Default: ``cni_conf_dir``."""
    multus_master_cni_file_name: str = ""
    """Use this master file. Default: the first ``.conf``/``.conflist``/``.json`` by name."""
    multus_conf_file: str = "auto"
    """``auto`` (generate) or a Multus config file to install as is. Default: ``auto``."""
    layout: Layout = "auto"
    """``auto``, ``python`` or ``frozen``. Default: ``auto``."""
    frozen_dir: str = DEFAULT_FROZEN_DIR
    """The PyInstaller onedir build. Default: the image's ``/usr/src/multus-cni/frozen/multus``."""
    python: str = ""
    """The host interpreter (host path) for the python layout. Default: probe
    ``PYTHON_CANDIDATES``."""
    host_root: str = "/"
    """Where the host's ``/`` is mounted. Default: ``/``."""
    skip_binary: bool = False
    """Do not install the thin ``multus`` plugin (``shim`` still installs the shim)."""
    shim: bool = False
    """Also install ``multus-shim`` (thick mode's CNI executable), in the same layout as
    ``multus``. Default: false."""
    frozen_shim_dir: str = DEFAULT_FROZEN_SHIM_DIR
    """The shim's PyInstaller onedir build (``build-node-binary.sh --target multus-shim``).
    Default: the image's ``/usr/src/multus-cni/frozen/multus-shim``."""
    skip_config: bool = False
    """Do not install the Multus config."""
    skip_kubeconfig: bool = False
    """Do not install the kubeconfig."""
    kubeconfig: KubeconfigSource = field(default_factory=KubeconfigSource)
    """How to make the kubeconfig."""
    generate: GenerateOptions = field(default_factory=GenerateOptions)
    """Generation options (shared with ``entrypoint`` / ``generate-config``). A
    ``generate.kubeconfig`` equal to the default is replaced by the installed kubeconfig's
    host path."""
    dry_run: bool = False
    """Report what would change; touch nothing."""


@dataclass(frozen=True, slots=True)
class Step:
    """One thing install/uninstall did (or, in a dry run, would do)."""

    action: Literal["write", "unchanged", "remove", "absent", "note"]
    path: str
    detail: str = ""

    def line(self, dry_run: bool) -> str:
        verbs = {
            "write": "would write" if dry_run else "wrote",
            "unchanged": "unchanged",
            "remove": "would remove" if dry_run else "removed",
            "absent": "already absent",
            "note": "note:",
        }
        text = f"{verbs[self.action]} {self.path}"
        return f"{text} ({self.detail})" if self.detail else text


@dataclass(slots=True)
class Report:
    """What a run did, in order. ``changed`` is false for an idempotent re-run."""

    dry_run: bool
    steps: list[Step] = field(default_factory=list)
    layout: str = ""

    @property
    def changed(self) -> bool:
        return any(s.action in ("write", "remove") for s in self.steps)

    def add(self, action: Literal["write", "unchanged", "remove", "absent", "note"],
            path: Path | str, detail: str = "") -> None:
        self.steps.append(Step(action, str(path), detail))


# --- host paths ------------------------------------------------------------------------------


class HostPaths:
    """Maps between this process's view and the host's view of paths."""

    def __init__(self, host_root: str) -> None:
        self.root = Path(os.path.abspath(host_root or "/"))

    def host_view(self, path: Path) -> str:
        """``/host/opt/cni/bin`` → ``/opt/cni/bin`` when the root is ``/host``."""
        absolute = Path(os.path.abspath(path))
        if self.root == Path("/"):
            return str(absolute)
        try:
            return "/" + str(absolute.relative_to(self.root))
        except ValueError:
            return str(absolute)

    def local(self, host_path: str) -> Path:
        """The inverse of :meth:`host_view`."""
        return self.root / host_path.lstrip("/")

    def resolve(self, host_path: str, depth: int = 0) -> str | None:
        """Follow symlinks of a host path inside the host root; None when missing."""
        if depth > 20:
            return None
        local = self.local(host_path)
        try:
            target = os.readlink(local)
        except FileNotFoundError:
            return None
        except OSError:  # not a symlink
            return host_path if local.exists() else None
        nxt = target if target.startswith("/") else os.path.join(os.path.dirname(host_path),
                                                                  target)
        return self.resolve(os.path.normpath(nxt), depth + 1)


# --- host interpreter ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostPython:
    """A host interpreter fit for the python layout."""

    path: str
    """Host path written into the launcher's ``#!`` line."""
    version: tuple[int, int]


_VERSIONED = re.compile(r"python(\d+)\.(\d+)$")


def _static_version(paths: HostPaths, host_path: str) -> tuple[int, int] | None:
    resolved = paths.resolve(host_path)
    if resolved is None:
        return None
    match = _VERSIONED.search(resolved)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _stdlib_complete(paths: HostPaths, host_path: str, version: tuple[int, int]) -> bool:
    """The interpreter's stdlib has what the plugin imports (Debian's python3-minimal does
    not ship everything): checked on disk, so it works for a mounted host root."""
    resolved = paths.resolve(host_path) or host_path
    prefix = os.path.dirname(os.path.dirname(resolved))  # /usr/bin/python3.11 -> /usr
    lib = paths.local(f"{prefix}/lib/python{version[0]}.{version[1]}")
    if not all((lib / f).exists() for f in ("ssl.py", "json/__init__.py",
                                            "ctypes/__init__.py", "http/client.py")):
        return False
    dynload = lib / "lib-dynload"
    if not dynload.is_dir():
        return True  # extension modules built in
    names = os.listdir(dynload)
    return all(any(n.startswith(f"{mod}.") for n in names) for mod in ("_ssl", "_ctypes"))


def _runtime_check(executable: str) -> tuple[int, int] | None:
    """Ask the interpreter itself (only when the host root is our own root)."""
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in NEEDED_STDLIB)
        + "print('%d.%d' % sys.version_info[:2])\n"
    )
    try:
        proc = subprocess.run([executable, "-I", "-S", "-c", code], capture_output=True,
                              text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    major, _, minor = proc.stdout.strip().partition(".")
    return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else None


def find_host_python(paths: HostPaths, explicit: str = "") -> HostPython | None:
    """The first suitable host interpreter (>= 3.11, stdlib with ssl/ctypes), or None."""
    for candidate in (explicit,) if explicit else PYTHON_CANDIDATES:
        local = paths.local(candidate)
        if not os.access(local, os.X_OK):
            continue
        version = _static_version(paths, candidate)
        if paths.root == Path("/"):
            version = _runtime_check(candidate)
        elif version is not None and not _stdlib_complete(paths, candidate, version):
            version = None
        if version is not None and version >= MIN_PYTHON:
            return HostPython(candidate, version)
    return None


# --- trees to install ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TreeFile:
    source: Path
    relpath: str
    mode: int


@dataclass(frozen=True, slots=True)
class Tree:
    """A directory to publish under ``multusctl.d/<name>``."""

    name: str
    files: tuple[TreeFile, ...]
    #: Ship PEP 552 bytecode next to the sources (when the host runs our Python version).
    compile_pyc: bool = False

    def generated(self) -> Iterator[tuple[str, bytes]]:
        """Extra files: ``(relpath, bytes)`` of the compiled bytecode."""
        if not self.compile_pyc:
            return
        for f in self.files:
            if f.relpath.endswith(".py"):
                yield (importlib.util.cache_from_source(f.relpath),
                       _unchecked_pyc(f.source.read_bytes(), f.relpath))


def _walk(root: Path, prefix: str, suffixes: tuple[str, ...] | None) -> Iterator[TreeFile]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if suffixes is not None and not name.endswith(suffixes):
                continue
            src = Path(dirpath) / name
            rel = os.path.join(prefix, os.path.relpath(src, root))
            yield TreeFile(src, rel, src.stat().st_mode & 0o777)


def _digest(files: tuple[TreeFile, ...], extra: bytes = b"") -> str:
    h = hashlib.sha256(extra)
    for f in files:
        h.update(f.relpath.encode() + b"\0" + oct(f.mode).encode() + b"\0")
        with f.source.open("rb") as fh:
            h.update(hashlib.file_digest(fh, "sha256").digest())
    return h.hexdigest()[:16]


def _unchecked_pyc(source: bytes, filename: str) -> bytes:
    """PEP 552 hash-based, unchecked pyc: valid whatever the file's mtime after copying."""
    code = compile(source, filename, "exec", dont_inherit=True)
    flags = (0b01).to_bytes(4, "little")
    return (importlib.util.MAGIC_NUMBER + flags + importlib.util.source_hash(source)
            + marshal.dumps(code))


def python_tree(interpreter: HostPython, *, shim_only: bool = False) -> Tree:
    """The package and :data:`VENDORED` as the host interpreter imports them; with
    ``shim_only``, just the :data:`SHIM_SOURCES` (a thick node needs nothing else)."""
    import multusctl

    package = Path(multusctl.__file__).parent
    if shim_only:
        sources = [package.parent / rel for rel in SHIM_SOURCES]
        shim_files = tuple(TreeFile(src, rel, src.stat().st_mode & 0o777)
                           for src, rel in zip(sources, SHIM_SOURCES, strict=True))
        digest = _digest(shim_files, f"{interpreter.version}".encode())
        return Tree(f"python-{digest}", shim_files,
                    compile_pyc=interpreter.version == sys.version_info[:2])
    files = list(_walk(package, "multusctl", (".py", ".typed")))
    ext_suffix = f".cpython-{interpreter.version[0]}{interpreter.version[1]}-"
    for name in VENDORED:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            continue
        origin = Path(spec.origin)
        if origin.name != "__init__.py":  # a single-module distribution
            files.append(TreeFile(origin, origin.name, origin.stat().st_mode & 0o777))
            continue
        prefix = name.replace(".", "/")
        for f in _walk(origin.parent, prefix, (".py", ".so")):
            # a C extension only loads into the interpreter it was built for
            if f.relpath.endswith(".so") and ext_suffix not in f.relpath:
                continue
            files.append(f)
    frozen = tuple(files)
    digest = _digest(frozen, f"{interpreter.version}".encode())
    return Tree(f"python-{digest}", frozen,
                compile_pyc=interpreter.version == sys.version_info[:2])


def frozen_tree(frozen_dir: Path, entry: str = PLUGIN) -> Tree:
    """The onedir build of ``entry`` (``multus``: ``frozen-<hash>``; ``multus-shim``:
    ``shim-<hash>``, so neither entry's install prunes the other's tree)."""
    if not os.access(frozen_dir / entry, os.X_OK):
        if entry == SHIM:
            how = "scripts/build-node-binary.sh --target multus-shim, or pass --frozen-shim-dir"
        else:
            how = "build one with scripts/build-node-binary.sh, or pass --frozen-dir"
        raise IOFailure(f"no frozen {entry} build in {frozen_dir} ({how})")
    files = tuple(f for f in _walk(frozen_dir, "", None) if f.relpath != ".build-key")
    prefix = "shim" if entry == SHIM else "frozen"
    return Tree(f"{prefix}-{_digest(files)}", files)


def launcher_text(interpreter: HostPython, tree: Tree, entry: str = PLUGIN) -> str:
    """The ``<bin>/multus`` (or, for ``entry`` ``multus-shim``, ``<bin>/multus-shim``)
    script of the python layout."""
    module = "multusctl.bin.shim" if entry == SHIM else "multusctl.bin.multus"
    return (
        f"#!{interpreter.path} -IS\n"
        f"{_LAUNCHER_MARK} ({__version__}, python layout): see docs/node-install.md\n"
        "import os, sys\n"
        "sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)),\n"
        f"                                {PRIVATE_DIR!r}, {tree.name!r}))\n"
        f"from {module} import main\n"
        "main()\n"
    )


# --- the installer ---------------------------------------------------------------------------


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _mode(path: Path) -> int | None:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return None


class Installer:
    """One install or uninstall run; every decision is recorded in :attr:`report`."""

    def __init__(self, options: InstallOptions) -> None:
        self.opts = options
        self.paths = HostPaths(options.host_root)
        self.report = Report(options.dry_run)
        self.bin_dir = Path(options.cni_bin_dir)
        self.conf_dir = Path(options.cni_conf_dir)
        self.private = self.bin_dir / PRIVATE_DIR
        self.record_path = self.private / RECORD
        self._record = self._load_record()
        self._written: dict[str, str] = {}
        #: Host views (``…/``) of the trees this run removed: dropped from the record.
        self._pruned: set[str] = set()
        dirs = self._record.get("dirs", [])
        self._dirs: list[str] = [str(d) for d in dirs] if isinstance(dirs, list) else []

    # --- record ------------------------------------------------------------------------

    def _load_record(self) -> dict[str, object]:
        raw = _read(self.record_path)
        if raw is None:
            return {}
        try:
            doc = json.loads(raw)
        except ValueError as err:
            raise InvalidConfig(f"install record {self.record_path} is not JSON: {err}") from err
        return doc if isinstance(doc, dict) else {}

    def _recorded_files(self) -> dict[str, str]:
        files = self._record.get("files", {})
        return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}

    # --- primitives --------------------------------------------------------------------

    def _mkdir(self, path: Path) -> None:
        """Create a directory (and parents), remembering those we created."""
        missing: list[Path] = []
        probe = path
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        for d in reversed(missing):
            if not self.opts.dry_run:
                d.mkdir(mode=0o755)
            host = self.paths.host_view(d)
            if host not in self._dirs:
                self._dirs.append(host)

    def _put(self, path: Path, data: bytes, mode: int, what: str) -> None:
        """Write ``data`` atomically unless the file already holds it (with ``mode``)."""
        self._written[self.paths.host_view(path)] = _sha(data)
        if _read(path) == data and _mode(path) == mode:
            self.report.add("unchanged", path, what)
            return
        self.report.add("write", path, what)
        self._mkdir(path.parent)
        if not self.opts.dry_run:
            fsutil.atomic_write(path, data, mode=mode)

    # --- binary ------------------------------------------------------------------------

    def choose_layout(self) -> tuple[str, HostPython | None]:
        layout = self.opts.layout
        if layout not in LAYOUTS:
            raise InvalidConfig(f"--layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
        interpreter = None
        if layout in ("auto", "python"):
            interpreter = find_host_python(self.paths, self.opts.python)
            if interpreter is not None:
                return "python", interpreter
            if layout == "python":
                wanted = self.opts.python or ", ".join(PYTHON_CANDIDATES)
                raise IOFailure(
                    f"no suitable host python (>= 3.11 with ssl and ctypes) among {wanted}"
                )
            for entry, frozen_dir, flag in self._frozen_sources():
                if not os.access(Path(frozen_dir) / entry, os.X_OK):
                    raise IOFailure(
                        f"cannot install {entry}: the host has no python3 >= 3.11 and there "
                        f"is no frozen build in {frozen_dir} "
                        f"(scripts/build-node-binary.sh, {flag})"
                    )
        return "frozen", None

    def _frozen_sources(self) -> list[tuple[str, str, str]]:
        """``(entry, frozen build dir, its flag)`` of each entry point this run installs."""
        out = []
        if not self.opts.skip_binary:
            out.append((PLUGIN, self.opts.frozen_dir, "--frozen-dir"))
        if self.opts.shim:
            out.append((SHIM, self.opts.frozen_shim_dir, "--frozen-shim-dir"))
        return out

    def install_binary(self) -> None:
        """Install ``multus`` (unless ``skip_binary``) and ``multus-shim`` (with ``shim``),
        then remove the trees no entry point uses any more."""
        layout, interpreter = self.choose_layout()
        self.report.layout = layout
        self._mkdir(self.private)
        previous_shim = self._tree_of(SHIM)
        used: dict[str, str] = {}
        for entry, frozen_dir, _flag in self._frozen_sources():
            path = self.bin_dir / entry
            if interpreter is not None:
                # the shim shares the plugin's tree; alone, it gets a tree of its own files
                tree = python_tree(interpreter, shim_only=entry == SHIM and PLUGIN not in used)
                self.report.add("note", path,
                                f"python layout, host interpreter {interpreter.path} "
                                f"{interpreter.version[0]}.{interpreter.version[1]}")
            else:
                tree = frozen_tree(Path(frozen_dir), entry)
                self.report.add("note", path, "frozen layout, self-contained")
            if tree.name not in used.values():
                self._publish_tree(tree)
            if interpreter is not None:
                self._put(path, launcher_text(interpreter, tree, entry).encode(), 0o755,
                          "launcher")
            else:
                self._symlink(path, f"{PRIVATE_DIR}/{tree.name}/{entry}")
            used[entry] = tree.name
        keep = set(used.values())
        for entry in (PLUGIN, SHIM):  # an entry point this run left alone keeps its tree
            if entry not in used and (name := self._tree_of(entry)) is not None:
                keep.add(name)
        prefixes: tuple[str, ...] = TREE_PREFIXES
        if self.opts.shim:
            if previous_shim is not None and previous_shim != used[SHIM]:
                keep.add(previous_shim)
                if (self.private / previous_shim).is_dir():
                    self.report.add("note", self.private / previous_shim,
                                    "kept: the shim's previous tree, removed by the next run")
        else:  # shim-* trees (a kept previous shim tree, or one an older thick DaemonSet's
            # init script published: docs/thick.md) go only in a run installing the shim
            prefixes = ("python-", "frozen-")
        self._prune_trees(keep, prefixes)

    def _tree_of(self, entry: str) -> str | None:
        """The ``multusctl.d`` tree the installed ``<bin>/<entry>`` runs from, if ours."""
        path = self.bin_dir / entry
        try:
            target = os.readlink(path)
        except OSError:  # absent, or not a symlink
            target = None
        if target is not None:
            parts = Path(target).parts
            return parts[1] if len(parts) > 2 and parts[0] == PRIVATE_DIR else None
        data = _read(path)
        if data is None or _LAUNCHER_MARK.encode() not in data:
            return None
        match = re.search(rb"'(python-[0-9a-f]+)'", data)
        return match.group(1).decode() if match else None

    def _publish_tree(self, tree: Tree) -> None:
        final = self.private / tree.name
        host = self.paths.host_view(final)
        self._written[host + "/"] = tree.name
        if (final / ".complete").exists():
            self.report.add("unchanged", final, f"{len(tree.files)} files")
            return
        self.report.add("write", final, f"{len(tree.files)} files")
        if self.opts.dry_run:
            return
        staging = self.private / f".staging-{tree.name}-{uuid.uuid4().hex[:8]}"
        try:
            staging.mkdir(mode=0o755)
            for f in tree.files:
                dest = staging / f.relpath
                dest.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                fsutil.atomic_copy(f.source, dest, mode=f.mode)
            for rel, data in tree.generated():
                dest = staging / rel
                dest.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                fsutil.atomic_write(dest, data, mode=0o644)
            fsutil.atomic_write(staging / ".complete", tree.name + "\n", mode=0o644)
            if final.exists():  # an incomplete leftover of an interrupted run
                shutil.rmtree(final)
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _symlink(self, link: Path, target: str) -> None:
        self._written[self.paths.host_view(link)] = "symlink:" + target
        try:
            current = os.readlink(link)
        except OSError:
            current = None
        if current == target:
            self.report.add("unchanged", link, f"-> {target}")
            return
        self.report.add("write", link, f"-> {target}")
        if self.opts.dry_run:
            return
        tmp = link.with_name(f".{link.name}.{uuid.uuid4().hex[:8]}.tmp")
        os.symlink(target, tmp)
        try:
            os.replace(tmp, link)
        except BaseException:
            fsutil.remove_quietly(tmp)
            raise

    def _prune_trees(self, keep: set[str], prefixes: tuple[str, ...]) -> None:
        if not self.private.is_dir():
            return
        for entry in sorted(self.private.iterdir()):
            if entry.is_dir() and entry.name not in keep and (
                entry.name.startswith((*prefixes, ".staging-"))
            ):
                self.report.add("remove", entry, "previous version")
                self._pruned.add(self.paths.host_view(entry) + "/")
                if not self.opts.dry_run:
                    shutil.rmtree(entry, ignore_errors=True)

    # --- config and kubeconfig ------------------------------------------------------------

    @property
    def kubeconfig_path(self) -> Path:
        return self.conf_dir / "multus.d" / "multus.kubeconfig"

    def install_kubeconfig(self) -> None:
        src = self.opts.kubeconfig
        if src.copy_from:
            data = _read(Path(src.copy_from))
            if data is None:
                raise IOFailure(f"kubeconfig {src.copy_from} not found")
        else:
            if not src.token_file:
                raise IOFailure(
                    "no service account token for the kubeconfig: pass --token-file "
                    "(and --ca-file), --kubeconfig FILE, or --skip-kubeconfig"
                )
            token = _read(Path(src.token_file))
            if token is None:
                raise IOFailure(f"token file {src.token_file} not found")
            ca: bytes | None = None
            if not src.skip_tls_verify:
                if not src.ca_file:
                    raise IOFailure("--ca-file is required unless --skip-tls-verify")
                ca = _read(Path(src.ca_file))
                if ca is None:
                    raise IOFailure(f"CA file {src.ca_file} not found")
            data = render_kubeconfig(KubeconfigInputs(
                host=src.host, port=src.port, protocol=src.protocol,
                skip_tls_verify=src.skip_tls_verify, ca_data=ca,
                token=token.decode("utf-8", errors="replace"),
            )).encode()
        self._put(self.kubeconfig_path, data, src.mode, "kubeconfig")

    def install_config(self) -> None:
        opts = self.opts
        if opts.multus_conf_file != "auto":
            source = Path(opts.multus_conf_file)
            data = _read(source)
            if data is None:
                raise IOFailure(f"multus-conf-file is not found: {source}")
            self._put(self.conf_dir / source.name, data, 0o600, "Multus config (copied)")
            return
        autoconf = Path(opts.multus_autoconfig_dir or opts.cni_conf_dir)
        try:
            names = [e.name for e in os.scandir(autoconf) if e.is_file()]
        except OSError as err:
            raise IOFailure(f'cannot find master CNI config in "{autoconf}": {err}') from err
        master = select_master(names, opts.multus_master_cni_file_name)
        if master is None:
            wanted = opts.multus_master_cni_file_name or "a master CNI config"
            raise IOFailure(
                f'cannot find {wanted} in "{autoconf}": install the default network first'
            )
        data = _read(autoconf / master)
        if data is None:
            raise IOFailure(f'cannot read master CNI config file "{autoconf / master}"')
        gen = opts.generate
        if gen.kubeconfig == GenerateOptions().kubeconfig:
            gen = _replace_kubeconfig(gen, self.paths.host_view(self.kubeconfig_path))
        result = generate(data, gen, str(autoconf / master))
        self._put(self.conf_dir / result.filename, result.text.encode(), 0o600,
                  f"Multus config from {master}")
        stale = self.conf_dir / result.stale_filename
        if self.paths.host_view(stale) in self._recorded_files() and stale.exists():
            self.report.add("remove", stale, "stale output of a previous install")
            if not opts.dry_run:
                fsutil.remove_quietly(stale)

    # --- runs --------------------------------------------------------------------------

    def install(self) -> Report:
        opts = self.opts
        binaries = not opts.skip_binary or opts.shim
        if binaries and not self.bin_dir.is_dir():
            raise IOFailure(f"cni-bin-dir {self.bin_dir} does not exist")
        if not opts.skip_config and not self.conf_dir.is_dir():
            raise IOFailure(f"cni-conf-dir {self.conf_dir} does not exist")
        try:
            if binaries:
                self.install_binary()
            if not opts.skip_kubeconfig and not opts.skip_config:
                self.install_kubeconfig()
            if not opts.skip_config:
                self.install_config()
            self._save_record()
        except OSError as err:
            raise IOFailure(f"install failed: {err}") from err
        return self.report

    def _save_record(self) -> None:
        files = {
            k: v for k, v in self._recorded_files().items()
            # trees pruned by this run, or gone since, leave the record; trees still in use
            # stay recorded even when this run did not install them (--skip-binary)
            if k not in self._pruned
            and not (k.endswith("/") and not self.paths.local(k.rstrip("/")).is_dir())
        }
        files.update(self._written)
        doc = {"version": __version__, "layout": self.report.layout
               or str(self._record.get("layout", "")),
               "files": dict(sorted(files.items())), "dirs": self._dirs}
        data = (json.dumps(doc, indent=2) + "\n").encode()
        if not self.private.exists() and not self._written:
            return
        self._mkdir(self.private)
        if _read(self.record_path) == data:
            return  # the record is bookkeeping: not reported as a change
        if not self.opts.dry_run:
            fsutil.atomic_write(self.record_path, data, mode=0o644)

    def uninstall(self) -> Report:
        files = self._recorded_files()
        if not files and not self.record_path.exists():
            self.report.add("note", self.record_path, "no install record: nothing to remove")
            return self.report
        try:
            for host, digest in sorted(files.items()):
                self._remove(host, digest)
            if self.record_path.exists():
                self.report.add("remove", self.record_path, "install record")
                if not self.opts.dry_run:
                    fsutil.remove_quietly(self.record_path)
            for host in sorted(self._dirs, key=len, reverse=True):
                local = self.paths.local(host)
                if local.is_dir() and not any(local.iterdir()):
                    self.report.add("remove", local, "directory created by install")
                    if not self.opts.dry_run:
                        local.rmdir()
        except OSError as err:
            raise IOFailure(f"uninstall failed: {err}") from err
        return self.report

    def _remove(self, host: str, digest: str) -> None:
        if host.endswith("/"):
            local = self.paths.local(host.rstrip("/"))
            if not local.exists():
                self.report.add("absent", local)
                return
            self.report.add("remove", local, "plugin tree")
            if not self.opts.dry_run:
                shutil.rmtree(local)
            return
        local = self.paths.local(host)
        if not local.is_symlink() and not local.exists():
            self.report.add("absent", local)
            return
        detail = ""
        if digest.startswith("symlink:"):
            if not local.is_symlink() or os.readlink(local) != digest[len("symlink:"):]:
                detail = "replaced since install"
        elif (data := _read(local)) is not None and _sha(data) != digest:
            detail = "modified since install"
        self.report.add("remove", local, detail)
        if not self.opts.dry_run:
            fsutil.remove_quietly(local)


def _replace_kubeconfig(options: GenerateOptions, path: str) -> GenerateOptions:
    import dataclasses

    return dataclasses.replace(options, kubeconfig=path)


def install(options: InstallOptions) -> Report:
    """Install (or, with ``dry_run``, plan) the plugin, kubeconfig and config."""
    return Installer(options).install()


def uninstall(options: InstallOptions) -> Report:
    """Remove exactly what earlier installs recorded in ``multusctl.d/install.json``."""
    return Installer(options).uninstall()


__all__ = [
    "DEFAULT_FROZEN_DIR",
    "DEFAULT_FROZEN_SHIM_DIR",
    "LAYOUTS",
    "OWN_OUTPUTS",
    "HostPython",
    "InstallOptions",
    "KubeconfigSource",
    "MultusError",
    "Report",
    "Step",
    "find_host_python",
    "install",
    "launcher_text",
    "uninstall",
]
