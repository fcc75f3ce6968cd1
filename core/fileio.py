"""Whole-or-nothing writes and guarded reads for every file the project touches."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path


class FileFormatError(ValueError):
    """A file we were asked to read is missing, too large or malformed; names the file."""


def check_size(path: Path, limit: int) -> int:
    """Size of `path` in bytes, or a FileFormatError if it is missing or over `limit`."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise FileFormatError(f"{path}: cannot read ({e.strerror or e})") from None
    if size > limit:
        raise FileFormatError(f"{path}: {size} bytes is larger than the {limit} allowed")
    return size


def check_writable(path, what: str = "output") -> None:
    """Refuse, before any long job starts, an output path that cannot be written: OSError
    naming the path. The file (or folder) need not exist; the nearest existing folder above
    it must accept a new file (tried for real: permissions, read-only disks, full quotas)."""
    path = Path(path)
    if path.is_dir() and what != "folder":
        raise IsADirectoryError(f"{path}: is a folder; give a file name for the {what}")
    if path.exists() and not path.is_dir() and what == "folder":
        raise NotADirectoryError(f"{path}: is a file, not a folder")
    parent = path if path.is_dir() else path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(f"{path}: cannot be written: {parent} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise PermissionError(f"{path}: cannot be written ({e.strerror or e} in {parent})") from None


@contextlib.contextmanager
def atomic_target(path):
    """A temporary file beside `path` to write into. Only if the block succeeds is it renamed
    over `path`, with the permissions a newly created file gets (not mkstemp's 0600)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_target(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def replace_dir(staging: Path, final: Path) -> None:
    """Move a fully written `staging` folder to `final`, replacing any old one. A reader sees
    the old or the new folder, never a mix (the old one survives as final.old until then)."""
    old = final.with_name(final.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    if old.exists():
        shutil.rmtree(old)


def read_json(path: Path, limit: int = 16 << 20) -> dict:
    """A JSON object from `path`, or a FileFormatError naming the file."""
    path = Path(path)
    check_size(path, limit)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FileFormatError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise FileFormatError(f"{path}: expected a JSON object")
    return data
