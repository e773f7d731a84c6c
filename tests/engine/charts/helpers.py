"""Chart test data and PNG checks."""

from __future__ import annotations

import io
import random
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from PIL import Image

from engine.charts import Bar, Marker

SEOUL = ZoneInfo("Asia/Seoul")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NS = 1_000_000_000
OPEN_NS = int(datetime(2024, 5, 13, 9, 0, tzinfo=SEOUL).timestamp()) * NS


def random_bars(n: int, seed: int = 3, start_ns: int = OPEN_NS, interval_s: int = 60) -> list[Bar]:
    """A random walk in 100-won ticks, with rising, falling and flat candles."""
    rng = random.Random(seed)
    bars: list[Bar] = []
    price = 71_000
    for i in range(n):
        o = price
        c = o + rng.choice((-1, 1)) * rng.randint(0, 4) * 100
        h = max(o, c) + rng.randint(0, 3) * 100
        lo = min(o, c) - rng.randint(0, 3) * 100
        bars.append(Bar(start_ns + i * interval_s * NS, o, h, lo, c, rng.randint(1_000, 90_000)))
        price = c
    return bars


def markers_for(bars: list[Bar]) -> list[Marker]:
    n = len(bars)
    picks = [(n // 8, "buy"), (n // 3, "sell"), (n // 2, "buy"), (n - 1, "sell")]
    return [Marker(bars[i].start_ns + 5 * NS, bars[i].close, side) for i, side in picks]


def equity_points(n: int, seed: int = 5, start: int = 10_000_000) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    points = []
    equity = start
    for i in range(n):
        equity += rng.randint(-9_000, 10_000)
        points.append((OPEN_NS + i * 60 * NS, equity))
    return points


def decode(png: bytes) -> np.ndarray:
    """(height, width, 3) uint8 pixels, after checking the bytes are a PNG PIL can read whole."""
    assert png[:8] == PNG_SIGNATURE
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        return np.asarray(image.convert("RGB"))


def distinct_colours(pixels: np.ndarray) -> int:
    rgb = pixels.reshape(-1, 3).astype(np.uint32)
    return len(np.unique(rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2]))


def count_near(pixels: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    diff = np.abs(pixels.astype(np.int16) - np.array(rgb, dtype=np.int16))
    return int(np.count_nonzero(diff.max(axis=2) <= tolerance))


# The renderers' up and down colours (Korean convention: up red, down blue).
RED = (0xD6, 0x27, 0x28)
BLUE = (0x1F, 0x4F, 0xD6)
