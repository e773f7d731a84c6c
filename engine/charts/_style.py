"""Shared look and plumbing for the chart renderers.

Everything here goes through an explicit Figure and an Agg canvas, never pyplot and never
rcParams: pyplot keeps global figure state and rcParams is a process-wide dict, so either
would make concurrent renders in worker threads interfere with each other.
"""

from __future__ import annotations

import importlib.util
import struct
import zlib
from datetime import datetime
from pathlib import Path
from typing import Protocol, cast

import numpy as np
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from engine.clock import seoul_datetime

# 1000x600 px: wide enough to read on a phone held sideways, small enough to upload fast.
FIGSIZE = (10.0, 6.0)
DPI = 100

TITLE_SIZE = 20
TEXT_SIZE = 15
TICK_SIZE = 13

INK = "#1a1a1a"
GRID = "#d9d9d9"
BACKGROUND = "white"
# Korean market convention: up is red, down is blue (the reverse of US charts).
UP = "#d62728"
DOWN = "#1f4fd6"
FLAT = "#555555"


def _register_bundled_korean_fonts() -> None:
    # koreanize-matplotlib ships NanumGothic; registering its files (without importing the
    # package, which rewrites global rcParams) gives Hangul titles on any machine, no apt needed.
    spec = importlib.util.find_spec("koreanize_matplotlib")  # located, not imported
    if spec is None or not spec.submodule_search_locations:
        return
    fonts = Path(next(iter(spec.submodule_search_locations))) / "fonts"
    for path in sorted(fonts.glob("NanumGothic*.ttf")):
        font_manager.fontManager.addfont(str(path))


def _title_family() -> list[str]:
    # Symbol names and titles may be Hangul, which DejaVu Sans lacks. Only name a CJK fallback
    # that is installed: naming a missing family makes matplotlib log a warning on every render.
    _register_bundled_korean_fonts()
    installed = {f.name for f in font_manager.fontManager.ttflist}
    family = ["DejaVu Sans"]
    for name in (
        "NanumGothic",
        "Noto Sans CJK KR",
        "Noto Sans KR",
        "Malgun Gothic",
        "AppleGothic",
        "UnDotum",
    ):
        if name in installed:
            family.append(name)
            break
    return family


TITLE_FAMILY = _title_family()


def new_figure() -> Figure:
    return Figure(figsize=FIGSIZE, dpi=DPI, facecolor=BACKGROUND, layout="constrained")


def to_png(fig: Figure) -> bytes:
    # One canvas.draw() rather than savefig: with a layout engine savefig renders the whole
    # figure twice (once to lay out, once to print), doubling the cost.
    canvas = cast(_AggCanvas, FigureCanvasAgg(fig))
    canvas.draw()
    return encode_png(np.asarray(canvas.buffer_rgba()))


class _AggCanvas(Protocol):
    """The two FigureCanvasAgg methods used here; backend_agg itself ships no type hints."""

    def draw(self) -> None: ...

    def buffer_rgba(self) -> memoryview: ...


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def encode_png(rgba: np.ndarray) -> bytes:
    """An opaque RGB PNG from an (h, w, 4) uint8 array.

    Not savefig/Pillow: Pillow's encoder holds the GIL through the whole compression (~17 ms for
    a 1000x600 chart), stalling every other thread of the process. zlib.compress and crc32
    release it, and with the filter below this is also quicker (~6 ms) and smaller.
    """
    h, w, _ = rgba.shape
    rgb = rgba[:, :, :3].reshape(h, w * 3)
    # Filter type 2 ("Up", difference from the row above, uint8 wrap-around is the PNG rule) on
    # every row: charts are mostly vertical repeats, so this compresses better than Pillow's
    # default output at the same zlib level, for a fraction of the cost of adaptive filtering.
    rows = np.empty((h, 1 + w * 3), dtype=np.uint8)
    rows[:, 0] = 2
    rows[0, 1:] = rgb[0]
    np.subtract(rgb[1:], rgb[:-1], out=rows[1:, 1:])
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"".join(
        (
            _PNG_SIGNATURE,
            _chunk(b"IHDR", ihdr),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def set_title(fig: Figure, title: str) -> None:
    # parse_math=False: a "$" in a user-supplied title must not be read as mathtext.
    fig.suptitle(
        title, fontsize=TITLE_SIZE, color=INK, fontfamily=TITLE_FAMILY, fontweight="bold", parse_math=False
    )


def style_axes(ax: Axes) -> None:
    ax.set_facecolor(BACKGROUND)
    ax.grid(True, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=TICK_SIZE, colors=INK)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def empty_chart(title: str, message: str) -> bytes:
    fig = new_figure()
    set_title(fig, title)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(
        0.5,
        0.5,
        message,
        ha="center",
        va="center",
        fontsize=TITLE_SIZE,
        color=FLAT,
        transform=ax.transAxes,
        parse_math=False,
    )
    return to_png(fig)


def krw(value: float) -> str:
    return f"{value:,.0f}"


def signed_krw(value: float) -> str:
    return f"{value:+,.0f}"


def compact(value: float) -> str:
    """Volume labels: 1.2M reads better on a phone than 1,234,567."""
    v = abs(value)
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if v >= div:
            return f"{value / div:.3g}{suffix}"
    return f"{value:.0f}"


def pnl_colour(value: float) -> str:
    if value > 0:
        return UP
    if value < 0:
        return DOWN
    return FLAT


def seoul(ts_ns: int) -> datetime:
    return seoul_datetime(ts_ns)


# Tick spacings in seconds, smallest first: round numbers on a clock face.
_TICK_STEPS = (
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    14400,
    21600,
    43200,
    86400,
    2 * 86400,
    7 * 86400,
    14 * 86400,
    28 * 86400,
)


def time_ticks(
    first_ns: int, last_ns: int, max_ticks: int = 7, shown_s: int | None = None
) -> tuple[list[int], str]:
    """Round Seoul clock times within [first_ns, last_ns] and the strftime format to label them.

    shown_s is how much time the axis really shows when that is less than the whole range (the
    candle axis skips gaps between bars); the spacing is chosen so about max_ticks fit in it.
    Written here rather than using matplotlib.dates, whose locators are untyped and would need a
    mypy exemption, and which the index-based candle axis cannot use anyway.
    """
    span_s = max((last_ns - first_ns) // 1_000_000_000, 1)
    shown = max(min(shown_s, span_s), 1) if shown_s is not None else span_s
    step = next((s for s in _TICK_STEPS if shown // s + 1 <= max_ticks), _TICK_STEPS[-1])
    # A few bars far apart would otherwise mean a tick every minute for days on end.
    step = next((s for s in _TICK_STEPS if s >= step and span_s // s <= 500), _TICK_STEPS[-1])
    offset = seoul(first_ns).utcoffset()
    off_s = int(offset.total_seconds()) if offset is not None else 0
    local_first = -(-(first_ns // 1_000_000_000 + off_s) // step) * step  # ceil to the step
    ticks: list[int] = []
    t = local_first
    while (t - off_s) * 1_000_000_000 <= last_ns:
        ticks.append((t - off_s) * 1_000_000_000)
        t += step
    multi_day = seoul(first_ns).date() != seoul(last_ns).date()
    if step >= 86400:
        fmt = "%m-%d"
    elif multi_day:
        fmt = "%m-%d %H:%M"
    else:
        fmt = "%H:%M"
    return ticks, fmt
