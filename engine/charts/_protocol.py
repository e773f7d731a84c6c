"""Frames between ChartWorker and its child process: a 4-byte big-endian length, then msgpack."""

from __future__ import annotations

import struct

import msgspec

LENGTH = struct.Struct(">I")


class CandlesRequest(msgspec.Struct, tag="candles", array_like=True, frozen=True):
    title: str
    bars: list[tuple[int, int, int, int, int, int]]
    markers: list[tuple[int, int, str]]


class EquityRequest(msgspec.Struct, tag="equity", array_like=True, frozen=True):
    title: str
    points: list[tuple[int, int]]


Request = CandlesRequest | EquityRequest


class Reply(msgspec.Struct, array_like=True, frozen=True):
    png: bytes = b""
    error: str = ""


def frame(payload: bytes) -> bytes:
    return LENGTH.pack(len(payload)) + payload
