"""Private files: the data directory holds every order, the audit log with Discord ids and
names, and broker tokens, so only the owner may read it (directory 0700, files 0600)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DEFAULT_DATA_DIR = Path("data")  # DATA_DIR unset: beside where the agent is started


def private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def private_file(path: Path) -> None:
    """Create `path` empty if missing, and make it owner-only. SQLite gives its -wal and -shm
    files the database file's mode, so doing this before connecting covers them too."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path.with_name(path.name + suffix), 0o600)


def write_private(path: Path, text: str) -> None:
    """Replace `path` atomically (a reader never sees it empty or half written), mode 0600."""
    write_private_bytes(path, text.encode())


def write_private_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def usable_dir(path: Path) -> str | None:
    """None when the agent can keep its data in `path` (created 0700 if missing); else what is
    wrong, in words, for a start-up error instead of a traceback from the first write."""
    try:
        private_dir(path)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except NotADirectoryError:
        return f"{path} is not a directory (it, or a folder on its path, is a file)"
    except FileExistsError:
        return f"{path} is a file, not a directory"
    except PermissionError:
        return (
            f"{path} is not writable by this user (uid {os.getuid()}): give it to this "
            "user, or point DATA_DIR at a writable directory"
        )
    except OSError as exc:
        return f"{path} cannot be used: {exc.strerror or type(exc).__name__}"
    return None
