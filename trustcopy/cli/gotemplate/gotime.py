"""Go's ``time.Time`` as a template sees ``.Created``: String, Format layouts and the field methods.

Why: scripts print image dates with ``{{.Created.Format "2006-01-02"}}`` or ``{{.Created.Unix}}``;
the text must be Go's. A time comes from JSON as Go's ``time.Time.UnmarshalJSON`` reads it (RFC
3339: ``Z`` is UTC; an offset equal to the machine zone's at that instant is the machine zone,
named; any other a nameless fixed zone), and Format restates Go's layout chunks (``nextStdChunk``).
A time this module cannot read (a year 0, an unknown form) prints as written and its methods
fail: never a value other than Go's.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from trustcopy.cli.gotemplate.errors import GoError
from trustcopy.cli.gotemplate.values import Int64

_RFC3339 = r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:[.,](\d+))?(Z|[+-]\d\d:\d\d)"  # (compiled on use)
_EPOCH_ORDINAL = 719163  # datetime.date(1970, 1, 1).toordinal()
_YEAR1_TO_UNIX = 62135596800  # seconds from 0001-01-01 to 1970-01-01 (Go's internal epoch)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
#: time.Time's methods that this module does not restate: named in the error instead of Go's output.
UNSUPPORTED_METHODS = frozenset({
    "Add", "AddDate", "After", "AppendFormat", "Before", "Clock", "Compare", "Date", "Equal", "GobEncode", "ISOWeek",
    "In", "IsDST", "Location", "MarshalBinary", "MarshalJSON", "MarshalText", "Round", "Sub", "Truncate", "Zone",
    "ZoneBounds", "GobDecode", "UnmarshalBinary", "UnmarshalJSON", "UnmarshalText",
})


class TimeUnsupported(GoError):
    """A time this module cannot compute with; the caller turns it into a template error."""


class GoMonth(int):
    """A ``time.Month``: prints its name (``January``), compares and ``%d``-prints as its number."""

    type_name = "time.Month"

    def __str__(self) -> str:
        return _MONTHS[self - 1] if 1 <= self <= 12 else f"%!Month({int(self)})"


class GoWeekday(int):
    """A ``time.Weekday``: prints its name (``Sunday``), compares as its number (Sunday is 0)."""

    type_name = "time.Weekday"

    def __str__(self) -> str:
        return _DAYS[self] if 0 <= self <= 6 else f"%!Weekday({int(self)})"


class _Instant:
    """A readable time: Unix seconds and nanoseconds, and the zone (kind utc | local | fixed, name, offset)."""

    def __init__(self, unix: int, nanos: int, zone_kind: str, zone_name: str, offset: int) -> None:
        self.unix, self.nanos = unix, nanos
        self.zone_kind, self.zone_name, self.offset = zone_kind, zone_name, offset

    def wall(self) -> datetime.datetime:
        """The wall clock in the time's zone (years 1 to 9999)."""
        try:
            return datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=self.unix + self.offset)
        except OverflowError as exc:
            raise TimeUnsupported("time outside years 1-9999") from exc


def _local_zone(unix: int) -> tuple[str, int]:
    """The machine zone's abbreviation and offset at an instant (Go's ``time.Local``)."""
    import time

    try:
        tm = time.localtime(unix)
    except (OverflowError, OSError, ValueError) as exc:
        raise TimeUnsupported("time outside the machine zone's range") from exc
    return tm.tm_zone, tm.tm_gmtoff


def _parse(text: str) -> _Instant | None:
    match = re.fullmatch(_RFC3339, text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    try:
        days = datetime.date(year, month, day).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    nanos = int((match.group(7) or "0")[:9].ljust(9, "0"))
    local = days * 86400 + hour * 3600 + minute * 60 + second
    zone = match.group(8)
    if zone == "Z":
        return _Instant(local, nanos, "utc", "UTC", 0)
    offset = (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    unix = local - offset
    try:
        name, local_offset = _local_zone(unix)
    except TimeUnsupported:
        local_offset = None
    if local_offset == offset:
        return _Instant(unix, nanos, "local", name, offset)
    return _Instant(unix, nanos, "fixed", "", offset)


class GoTime:
    """A ``*time.Time`` (``pointer=False``: a ``time.Time`` a method returned); prints like ``String``."""

    def __init__(self, rfc3339: str | None, *, pointer: bool = True, instant: _Instant | None = None) -> None:
        self.rfc3339 = rfc3339  # None: a nil *time.Time (prints <nil>)
        self.pointer = pointer
        self._instant = instant if instant is not None else _parse(rfc3339) if rfc3339 is not None else None

    @property
    def type_name(self) -> str:
        return "*time.Time" if self.pointer else "time.Time"

    def instant(self) -> _Instant:
        if self._instant is None:
            raise TimeUnsupported(f"cannot compute with the time {self.rfc3339!r}")
        return self._instant

    def utc_fields(self) -> tuple[int, int] | None:
        """time.Time's (wall, ext) when its location pointer is nil (UTC): fmt's ``%d`` prints them."""
        if self._instant is None or self._instant.zone_kind != "utc":
            return None
        return self._instant.nanos, self._instant.unix + _YEAR1_TO_UNIX

    def __str__(self) -> str:
        if self.rfc3339 is None:
            return "<nil>"
        if self._instant is None:
            return self.rfc3339
        return go_format(self, "2006-01-02 15:04:05.999999999 -0700 MST")

    def rfc3339_nano(self) -> str:
        """What Go's MarshalJSON writes (RFC 3339 with trimmed nanoseconds)."""
        if self._instant is None:
            return self.rfc3339 or ""
        return go_format(self, "2006-01-02T15:04:05.999999999Z07:00")

    def go_string(self) -> str:
        """``%#v``: Go's ``Time.GoString`` (``time.Date(2024, time.January, …, time.UTC)``)."""
        if self.rfc3339 is None:
            return "(*time.Time)(nil)"
        inst = self.instant()
        wall = inst.wall()
        loc = {"utc": "time.UTC", "local": "time.Local"}.get(inst.zone_kind, 'time.Location("")')
        return (f"time.Date({wall.year}, time.{_MONTHS[wall.month - 1]}, {wall.day}, {wall.hour}, {wall.minute}, "
                f"{wall.second}, {inst.nanos}, {loc})")


def _wrap64(value: int) -> int:
    """Go's int64 arithmetic: wrap around on overflow."""
    return (value + 2**63) % 2**64 - 2**63


def _in_zone(value: GoTime, zone_kind: str) -> GoTime:
    inst = value.instant()
    if zone_kind == "utc":
        moved = _Instant(inst.unix, inst.nanos, "utc", "UTC", 0)
    else:
        name, offset = _local_zone(inst.unix)
        moved = _Instant(inst.unix, inst.nanos, "local", name, offset)
    out = GoTime("", pointer=False, instant=moved)
    out.rfc3339 = out.rfc3339_nano()
    return out


# -- Format: Go's layout chunks (time/format.go nextStdChunk), restated -----------------------------

_ZONES = ("Z070000", "Z07:00:00", "Z0700", "Z07:00", "Z07", "-070000", "-07:00:00", "-0700", "-07:00", "-07")


def _next_chunk(layout: str, start: int) -> tuple[int, str, int]:
    """From ``start``: (where the text before ends, the layout element, where the rest begins); element ""
    when there is none. Positions, not slices: a long layout is read once, not copied at every character."""
    n = len(layout)
    for i in range(start, n):
        c = layout[i]
        if c == "J" and layout.startswith("Jan", i):
            if layout.startswith("January", i):
                return i, "January", i + 7
            if not ("a" <= layout[i + 3:i + 4] <= "z"):
                return i, "Jan", i + 3
        elif c == "M" and layout.startswith("Mon", i):
            if layout.startswith("Monday", i):
                return i, "Monday", i + 6
            if not ("a" <= layout[i + 3:i + 4] <= "z"):
                return i, "Mon", i + 3
        elif c == "M" and layout.startswith("MST", i):
            return i, "MST", i + 3
        elif c == "0":
            if i + 1 < n and "1" <= layout[i + 1] <= "6":
                return i, layout[i:i + 2], i + 2
            if layout.startswith("002", i):
                return i, "002", i + 3
        elif c == "1":
            if layout.startswith("15", i):
                return i, "15", i + 2
            return i, "1", i + 1
        elif c == "2":
            if layout.startswith("2006", i):
                return i, "2006", i + 4
            return i, "2", i + 1
        elif c == "_":
            if layout.startswith("_2", i):
                if layout.startswith("_2006", i):  # a literal _ and the year
                    return i + 1, "2006", i + 5
                return i, "_2", i + 2
            if layout.startswith("__2", i):
                return i, "__2", i + 3
        elif c in "345":
            return i, c, i + 1
        elif c == "P" and layout.startswith("PM", i):
            return i, "PM", i + 2
        elif c == "p" and layout.startswith("pm", i):
            return i, "pm", i + 2
        elif c in "-Z":
            for zone in _ZONES:
                if layout.startswith(zone, i):
                    return i, zone, i + len(zone)
        elif c in ".," and i + 1 < n and layout[i + 1] in "09":
            j = i + 1
            while j < n and layout[j] == layout[i + 1]:
                j += 1
            if not (j < n and layout[j].isdigit() and layout[j].isascii()):
                return i, layout[i:j], j
    return n, "", n


def _pad(number: int, width: int) -> str:
    """Go's appendInt: a minus sign, then the digits zero-padded to width."""
    return ("-" if number < 0 else "") + str(abs(number)).rjust(width, "0")


def go_format(value: GoTime, layout: str) -> str:
    """Go's ``Time.Format(layout)``."""
    inst = value.instant()
    wall = inst.wall()
    hour12 = wall.hour % 12 or 12
    simple = {
        "2006": lambda: _pad(wall.year, 4), "06": lambda: _pad(wall.year % 100, 2),
        "January": lambda: _MONTHS[wall.month - 1], "Jan": lambda: _MONTHS[wall.month - 1][:3],
        "1": lambda: str(wall.month), "01": lambda: _pad(wall.month, 2),
        "Monday": lambda: _DAYS[(wall.weekday() + 1) % 7], "Mon": lambda: _DAYS[(wall.weekday() + 1) % 7][:3],
        "2": lambda: str(wall.day), "_2": lambda: str(wall.day).rjust(2), "02": lambda: _pad(wall.day, 2),
        "__2": lambda: str(wall.timetuple().tm_yday).rjust(3), "002": lambda: _pad(wall.timetuple().tm_yday, 3),
        "15": lambda: _pad(wall.hour, 2), "3": lambda: str(hour12), "03": lambda: _pad(hour12, 2),
        "4": lambda: str(wall.minute), "04": lambda: _pad(wall.minute, 2),
        "5": lambda: str(wall.second), "05": lambda: _pad(wall.second, 2),
        "PM": lambda: "PM" if wall.hour >= 12 else "AM", "pm": lambda: "pm" if wall.hour >= 12 else "am",
    }
    out: list[str] = []
    pos = 0
    while pos < len(layout):
        end, std, after = _next_chunk(layout, pos)
        out.append(layout[pos:end])
        pos = after
        if not std:
            break
        if std in simple:
            out.append(simple[std]())
        elif std == "MST":
            out.append(inst.zone_name or _zone(inst.offset, "-0700"))
        elif std[0] in "-Z":
            out.append("Z" if std[0] == "Z" and inst.offset == 0 else _zone(inst.offset, std))
        else:  # fractional seconds: .000 (fixed width) or .999 (trailing zeros trimmed)
            digits = f"{inst.nanos:09d}"[:min(len(std) - 1, 9)]
            if std[1] == "9":
                digits = digits.rstrip("0")
            if digits:
                out.append(std[0] + digits)
    return "".join(out)


def _zone(offset: int, std: str) -> str:
    """A numeric zone as the layout element spells it (-0700, -07:00, -07, -070000, -07:00:00)."""
    sign = "-" if offset < 0 else "+"
    offset = abs(offset)
    hours, minutes, seconds = offset // 3600, offset // 60 % 60, offset % 60
    colon = ":" if ":" in std else ""
    text = sign + _pad(hours, 2)
    if std[1:] not in ("07",):
        text += colon + _pad(minutes, 2)
    if len(std.replace(":", "")) == 7:
        text += colon + _pad(seconds, 2)
    return text


#: The methods restated: name → (parameter kinds, function of the time and the arguments).
TIME_METHODS: dict[str, tuple[tuple[str, ...], Any]] = {
    "String": ((), str),
    "GoString": ((), GoTime.go_string),
    "Format": (("string",), go_format),
    "Year": ((), lambda t: t.instant().wall().year),
    "Month": ((), lambda t: GoMonth(t.instant().wall().month)),
    "Day": ((), lambda t: t.instant().wall().day),
    "Hour": ((), lambda t: t.instant().wall().hour),
    "Minute": ((), lambda t: t.instant().wall().minute),
    "Second": ((), lambda t: t.instant().wall().second),
    "Nanosecond": ((), lambda t: t.instant().nanos),
    "YearDay": ((), lambda t: t.instant().wall().timetuple().tm_yday),
    "Weekday": ((), lambda t: GoWeekday((t.instant().wall().weekday() + 1) % 7)),
    "Unix": ((), lambda t: Int64(t.instant().unix)),
    "UnixMilli": ((), lambda t: Int64(_wrap64(t.instant().unix * 1000 + t.instant().nanos // 1_000_000))),
    "UnixMicro": ((), lambda t: Int64(_wrap64(t.instant().unix * 1_000_000 + t.instant().nanos // 1000))),
    "UnixNano": ((), lambda t: Int64(_wrap64(t.instant().unix * 1_000_000_000 + t.instant().nanos))),
    "UTC": ((), lambda t: _in_zone(t, "utc")),
    "Local": ((), lambda t: _in_zone(t, "local")),
    "IsZero": ((), lambda t: t.instant().unix == -_YEAR1_TO_UNIX and t.instant().nanos == 0),
}
