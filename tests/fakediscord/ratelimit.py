"""Per-route-key fixed-window rate limits, answered the way Discord answers them."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field


@dataclass
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    bucket: str

    def headers(self) -> dict[str, str]:
        # discord.py reads Limit/Remaining/Reset-After and keys its buckets by the hash.
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": f"{time.time() + self.reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{self.reset_after:.3f}",
            "X-RateLimit-Bucket": self.bucket,
        }

    def retry_headers(self) -> dict[str, str]:
        return {
            **self.headers(),
            "X-RateLimit-Scope": "user",
            "Retry-After": str(math.ceil(self.reset_after)),
            # Without Via discord.py takes a 429 for a Cloudflare ban and raises at once.
            "Via": "1.1 google",
        }


@dataclass
class _Window:
    started: float
    used: int = 0


@dataclass
class RateLimiter:
    """`limit` requests per `per` seconds for each key (Discord buckets messages per channel).

    A window opens at the first request after the previous one expired, like Discord's
    buckets: Reset-After counts down from the first request, not from a wall-clock grid."""

    limit: int
    per: float
    name: str = "messages"
    _windows: dict[str, _Window] = field(default_factory=dict)

    @property
    def bucket(self) -> str:
        return hashlib.sha1(f"{self.name}:{self.limit}:{self.per}".encode()).hexdigest()[:16]

    def hit(self, key: str, now: float | None = None) -> Decision:
        now = time.monotonic() if now is None else now
        window = self._windows.get(key)
        if window is None or now - window.started >= self.per:
            window = self._windows[key] = _Window(started=now)
        reset_after = max(0.0, window.started + self.per - now)
        if window.used >= self.limit:
            return Decision(False, self.limit, 0, reset_after, self.bucket)
        window.used += 1
        return Decision(True, self.limit, self.limit - window.used, reset_after, self.bucket)
