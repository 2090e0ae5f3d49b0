"""The upstream-compatible plugin logger (multusctl.logs): LOG-01…LOG-06, BUG-02."""

from __future__ import annotations

import gzip
import io
import os
import re
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from multusctl.logs import MEGABYTE, Level, Logger, Rotation, parse_level, rfc3339

LINE_RE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d) \[(panic|error|verbose|debug)\] (.*)$"
)
BACKUP_RE = re.compile(r"^multus-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}\.log(\.gz)?$")


class FakeClock:
    """Advances by ``step`` on every reading, so backup names never collide."""

    def __init__(self, start: datetime, step: timedelta = timedelta(seconds=1)) -> None:
        self.moment = start
        self.step = step

    def __call__(self) -> datetime:
        self.moment += self.step
        return self.moment


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC))


@pytest.fixture
def utc_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC0")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _messages(text: str) -> list[str]:
    out = []
    for line in _lines(text):
        match = LINE_RE.match(line)
        assert match, line
        out.append(match.group(3))
    return out


# --------------------------------------------------------------------------- levels


def test_default_level_is_panic() -> None:
    err = io.StringIO()
    log = Logger(stderr=err)
    assert log.level is Level.PANIC
    log.debug("d")
    log.verbose("v")
    log.error("e")
    assert err.getvalue() == ""
    log.panic("boom")
    assert _messages(err.getvalue()) == [
        "boom",
        "========= Stack trace output ========",
        "Multus Panic",
        "========= Stack trace output end ========",
    ]
    assert all("[panic]" in line for line in _lines(err.getvalue()))


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("panic", []),
        ("error", ["e"]),
        ("Verbose", ["v", "e"]),
        ("DEBUG", ["d", "v", "e"]),
    ],
)
def test_levels_are_cumulative_and_case_insensitive(name: str, shown: list[str]) -> None:
    err = io.StringIO()
    log = Logger(stderr=err)
    log.set_level(name)
    log.debug("d")
    log.verbose("v")
    log.error("e")
    assert _messages(err.getvalue()) == shown


def test_line_carries_its_level() -> None:
    err = io.StringIO()
    log = Logger(stderr=err, level=Level.DEBUG)
    log.debug("one")
    log.verbose("two")
    log.error("three")
    levels = [LINE_RE.match(line).group(2) for line in _lines(err.getvalue())]  # type: ignore[union-attr]
    assert levels == ["debug", "verbose", "error"]


def test_unknown_level_warns_and_keeps_the_level() -> None:
    err = io.StringIO()
    log = Logger(stderr=err, log_to_stderr=False)
    log.set_level("verbose")
    log.set_level("loud")
    assert log.level is Level.VERBOSE
    assert err.getvalue() == "multus logging: cannot set logging level to loud\n"


def test_parse_level() -> None:
    assert parse_level("Error") is Level.ERROR
    assert parse_level("") is None
    assert parse_level("max") is None
    assert str(Level.VERBOSE) == "verbose"


def test_errorf_logs_and_returns_the_message() -> None:
    err = io.StringIO()
    log = Logger(stderr=err, level=Level.ERROR)
    text = log.errorf("Multus: cannot read %s: %d", "/x", 2)
    assert text == "Multus: cannot read /x: 2"
    assert _messages(err.getvalue()) == [text]
    # returned even when the level hides it
    assert Logger(stderr=err).errorf("quiet") == "quiet"


def test_bad_format_arguments_do_not_raise() -> None:
    err = io.StringIO()
    log = Logger(stderr=err, level=Level.DEBUG)
    log.debug("%d items", "many")
    assert _messages(err.getvalue()) == ["%d items many"]


def test_log_to_stderr_false_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    err = io.StringIO()
    log = Logger(stderr=err, log_to_stderr=False, level=Level.DEBUG)
    log.debug("hidden")
    log.panic("hidden too")
    assert err.getvalue() == ""
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_never_writes_stdout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import sys

    log = Logger(stderr=sys.stderr, level=Level.DEBUG, log_file=str(tmp_path / "m.log"))
    log.debug("to stderr and file")
    log.set_level("nope")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "to stderr and file" in captured.err
    assert "cannot set logging level to nope" in captured.err


# --------------------------------------------------------------------------- time format


def test_rfc3339_utc_is_z(utc_tz: None) -> None:
    moment = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert rfc3339(moment) == "2024-05-01T10:00:00Z"


def test_rfc3339_local_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "IST-5:30")
    time.tzset()
    try:
        moment = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
        assert rfc3339(moment) == "2024-05-01T15:30:00+05:30"
        monkeypatch.setenv("TZ", "EST+5")
        time.tzset()
        assert rfc3339(moment) == "2024-05-01T05:00:00-05:00"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_line_format_with_clock(clock: FakeClock, utc_tz: None) -> None:
    err = io.StringIO()
    log = Logger(stderr=err, level=Level.VERBOSE, now=clock)
    log.verbose("Add: ns:pod:uid:net(net):net1 {}")
    assert err.getvalue() == "2024-05-01T10:00:01Z [verbose] Add: ns:pod:uid:net(net):net1 {}\n"


# --------------------------------------------------------------------------- log file


def test_file_is_created_lazily_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "multus.log"
    log = Logger(stderr=None, level=Level.VERBOSE)
    log.set_file(str(path))
    assert log.log_file == str(path)
    log.debug("below the level: no file yet")
    assert not path.exists()
    old = os.umask(0o022)
    try:
        log.verbose("first")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    log.verbose("second")
    assert _messages(path.read_text()) == ["first", "second"]
    log.close()


def test_file_is_appended(tmp_path: Path) -> None:
    path = tmp_path / "multus.log"
    path.write_text("earlier line\n")
    log = Logger(stderr=None, level=Level.ERROR, log_file=str(path))
    log.error("later")
    log.close()
    lines = _lines(path.read_text())
    assert lines[0] == "earlier line"
    assert _messages("\n".join(lines[1:])) == ["later"]


def test_empty_file_name_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "multus.log"
    log = Logger(stderr=None, level=Level.ERROR, log_file=str(path))
    log.set_file("")
    assert log.log_file == str(path)


def test_file_and_stderr_get_the_same_line(tmp_path: Path, clock: FakeClock) -> None:
    err = io.StringIO()
    path = tmp_path / "multus.log"
    log = Logger(stderr=err, level=Level.ERROR, log_file=str(path), now=clock)
    log.error("same")
    log.close()
    assert path.read_text() == err.getvalue()


# --------------------------------------------------------------------------- rotation

LINE_BYTES = len("2024-05-01T10:00:00Z [error] message 000\n")


def _write(log: Logger, count: int, start: int = 0) -> list[str]:
    texts = [f"message {i:03d}" for i in range(start, start + count)]
    for text in texts:
        log.error(text)
    return texts


def _read_all(directory: Path, name: str = "multus.log") -> list[str]:
    """Every message in backups (oldest first) and then the live file."""
    backups = sorted(p for p in directory.iterdir() if p.name != name)
    texts: list[str] = []
    for path in backups:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        texts += _messages(data.decode())
    return texts + _messages((directory / name).read_text())


def test_rotates_by_size_and_compresses(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "multus.log"
    log = Logger(stderr=None, level=Level.ERROR, log_file=str(path), now=clock)
    # room for three lines per file; keep everything
    log.set_options(max_size=(3 * LINE_BYTES + 5) / MEGABYTE, max_backups=0, max_age=0)
    texts = _write(log, 10)
    log.close()
    backups = sorted(p.name for p in tmp_path.iterdir() if p.name != "multus.log")
    assert len(backups) == 3
    assert all(BACKUP_RE.match(name) and name.endswith(".log.gz") for name in backups)
    assert _read_all(tmp_path) == texts
    # no file ever exceeds the limit and no line is split
    for name in backups:
        assert len(gzip.decompress((tmp_path / name).read_bytes())) <= 3 * LINE_BYTES + 5
    assert len(_lines(path.read_text())) == 1


def test_backup_names_use_utc_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "IST-5:30")
    time.tzset()
    try:
        clock = FakeClock(datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=UTC), timedelta(0))
        path = tmp_path / "multus.log"
        log = Logger(stderr=None, level=Level.ERROR, log_file=str(path), now=clock)
        log.set_options(max_size=2 * LINE_BYTES / MEGABYTE, compress=False)
        _write(log, 2)
        log.close()
    finally:
        monkeypatch.undo()
        time.tzset()
    backups = [p.name for p in tmp_path.iterdir() if p.name != "multus.log"]
    # the lines say 15:30:00+05:30, the backup name keeps UTC
    assert backups == ["multus-2024-05-01T10-00-00.250.log"]


def test_uncompressed_backups(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "multus.log"
    log = Logger(stderr=None, level=Level.ERROR, log_file=str(path), now=clock)
    log.set_options(max_size=(2 * LINE_BYTES) / MEGABYTE, compress=False, max_backups=0)
    texts = _write(log, 5)
    log.close()
    backups = sorted(p.name for p in tmp_path.iterdir() if p.name != "multus.log")
    assert len(backups) == 2
    assert all(BACKUP_RE.match(name) and name.endswith(".log") for name in backups)
    assert _read_all(tmp_path) == texts


def test_max_backups_keeps_the_newest(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "multus.log"
    log = Logger(stderr=None, level=Level.ERROR, log_file=str(path), now=clock)
    log.set_options(max_size=LINE_BYTES / MEGABYTE, max_backups=2)
    texts = _write(log, 6)
    log.close()
    backups = sorted(p.name for p in tmp_path.iterdir() if p.name != "multus.log")
    assert len(backups) == 2
    assert _read_all(tmp_path) == texts[-3:]


def test_max_age_prunes_old_backups(tmp_path: Path, clock: FakeClock) -> None:
    old = tmp_path / "multus-2024-04-20T10-00-00.000.log.gz"
    recent = tmp_path / "multus-2024-04-29T10-00-00.000.log"
    unrelated = tmp_path / "multus-notes.log"
    other = tmp_path / "other-2024-04-20T10-00-00.000.log"
    for p in (old, recent, unrelated, other):
        p.write_text("x\n")
    log = Logger(stderr=None, level=Level.ERROR, log_file=str(tmp_path / "multus.log"), now=clock)
    log.set_options(max_age=5)
    log.error("opens the file and tidies up")
    log.close()
    names = {p.name for p in tmp_path.iterdir()}
    assert old.name not in names
    # the recent plain backup got compressed; the rest is not ours
    assert "multus-2024-04-29T10-00-00.000.log.gz" in names
    assert recent.name not in names
    assert gzip.decompress((tmp_path / (recent.name + ".gz")).read_bytes()) == b"x\n"
    assert unrelated.name in names
    assert other.name in names


def test_existing_full_file_rotates_on_first_write(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "multus.log"
    path.write_bytes(b"z" * 100)
    path.chmod(0o640)
    log = Logger(stderr=None, level=Level.ERROR, log_file=str(path), now=clock)
    log.set_options(max_size=(100 + LINE_BYTES - 1) / MEGABYTE, compress=False)
    log.error("message 000")
    log.close()
    backups = [p for p in tmp_path.iterdir() if p.name != "multus.log"]
    assert len(backups) == 1
    assert backups[0].read_bytes() == b"z" * 100
    assert _messages(path.read_text()) == ["message 000"]
    # the new file keeps the mode of the one it replaced
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_line_longer_than_the_limit_skips_the_file(tmp_path: Path) -> None:
    err = io.StringIO()
    path = tmp_path / "multus.log"
    log = Logger(stderr=err, level=Level.ERROR, log_file=str(path))
    log.set_options(max_size=10 / MEGABYTE)
    log.error("far longer than ten bytes")
    log.close()
    assert not path.exists()
    assert _messages(err.getvalue()) == ["far longer than ten bytes"]


def test_file_without_extension(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "multuslog"
    log = Logger(stderr=None, level=Level.ERROR, log_file=str(path), now=clock)
    log.set_options(max_size=LINE_BYTES / MEGABYTE)
    _write(log, 2)
    log.close()
    backups = [p.name for p in tmp_path.iterdir() if p.name != "multuslog"]
    assert len(backups) == 1
    assert re.fullmatch(r"multuslog-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}\.gz", backups[0])


def test_unwritable_file_never_raises(tmp_path: Path) -> None:
    err = io.StringIO()
    blocker = tmp_path / "file"
    blocker.write_text("")
    log = Logger(stderr=err, level=Level.ERROR, log_file=str(blocker / "multus.log"))
    log.error("still on stderr")
    assert _messages(err.getvalue()) == ["still on stderr"]


# --------------------------------------------------------------------------- options


def test_option_defaults() -> None:
    log = Logger(stderr=None)
    assert log.rotation == Rotation(max_size=100, max_backups=5, max_age=5, compress=True)
    assert log.rotation.limit() == 100 * MEGABYTE
    assert Rotation(max_size=0).limit() == 100 * MEGABYTE
    log.set_options(max_size=1, compress=False)
    assert log.rotation == Rotation(max_size=1, max_backups=5, max_age=5, compress=False)
    # a later call starts from the defaults again, as upstream's SetLogOptions does
    log.set_options(max_backups=1)
    assert log.rotation == Rotation(max_size=100, max_backups=1, max_age=5, compress=True)


@pytest.mark.parametrize("options_first", [True, False])
def test_options_apply_in_either_order(
    tmp_path: Path, clock: FakeClock, options_first: bool
) -> None:
    """BUG-02: upstream's thin plugin drops logOptions because they come before logFile."""
    path = tmp_path / "multus.log"
    log = Logger(stderr=None, level=Level.ERROR, now=clock)
    size = LINE_BYTES / MEGABYTE
    if options_first:
        log.set_options(max_size=size, max_backups=1, compress=False)
        log.set_file(str(path))
    else:
        log.set_file(str(path))
        log.set_options(max_size=size, max_backups=1, compress=False)
    assert log.rotation == Rotation(max_size=size, max_backups=1, max_age=5, compress=False)
    texts = _write(log, 4)
    log.close()
    backups = [p.name for p in tmp_path.iterdir() if p.name != "multus.log"]
    assert len(backups) == 1
    assert backups[0].endswith(".log")
    assert _read_all(tmp_path) == texts[-2:]
