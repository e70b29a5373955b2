"""Crash-safe in-place updates of one file: a redo journal under h5py's file-object driver.

HDF5 rewrites its own metadata (B-trees, heaps, the superblock) in place and is not journaled, so
a process killed in the middle of a flush can leave a file whose OLD demonstrations are no longer
reachable. JournaledFile is the file object h5py writes through (``h5py.File(JournaledFile(p))``):

- bytes at or beyond the size of the file at the last commit go straight to disk: nothing
  committed points there yet, so a crash leaves only unreferenced garbage past the HDF5 end;
- bytes that would overwrite committed content are kept in memory pages instead (reads see them);
- ``commit()`` writes those pages to ``<path>.journal.tmp``, fsyncs it, renames it to
  ``<path>.journal`` (THE atomic commit point), copies the pages into the file and deletes the
  journal.

``recover(path)`` finishes a committed journal left by a killed writer (replaying is idempotent)
and deletes an uncommitted ``.journal.tmp``. A SIGKILL at any instant therefore leaves the file
exactly as it was at the last ``commit()``. An exclusive ``flock`` on the file marks the live
writer; it is released by the kernel when the writer dies.
"""

from __future__ import annotations

import fcntl
import io
import os
import struct
import zlib
from pathlib import Path

from oneshot_ros.errors import FileBusyError, FileFormatError

PAGE_BYTES = 4096
_MAGIC = b"OSRJ1\n"
_PAGE_HEADER = struct.Struct("<QI")  # page index, bytes in the page


def journal_path(path: str | Path) -> Path:
    return Path(f"{path}.journal")


def lock(fd: int, path: str | Path, exclusive: bool) -> None:
    """flock the file (non-blocking); raise FileBusyError if a live writer holds it."""
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        raise FileBusyError(
            f"{path} is being written by another running process; wait for it to finish "
            "(or stop it) and try again"
        ) from None


def recover(path: str | Path) -> bool:
    """Finish or drop the journal of a killed writer. Returns True if a commit was replayed."""
    journal = journal_path(path)
    if not journal.exists() and not Path(f"{journal}.tmp").exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        lock(fd, path, exclusive=True)  # raises if the writer is alive (mid-commit)
        return recover_locked(fd, path)
    finally:
        os.close(fd)


def recover_locked(fd: int, path: str | Path) -> bool:
    """recover() for a caller that already holds the exclusive lock on `fd`."""
    journal = journal_path(path)
    Path(f"{journal}.tmp").unlink(missing_ok=True)  # never renamed: that commit did not happen
    if not journal.exists():
        return False
    _apply(fd, _read_journal(journal))
    os.fsync(fd)
    journal.unlink()
    return True


def _read_journal(journal: Path) -> list[tuple[int, bytes]]:
    blob = journal.read_bytes()
    body, crc = blob[:-4], blob[-4:]
    if not body.startswith(_MAGIC) or zlib.crc32(body).to_bytes(4, "little") != crc:
        raise FileFormatError(
            f"{journal} is damaged (bad checksum); the file next to it may be inconsistent: "
            "restore a copy or re-collect it"
        )
    pages, pos = [], len(_MAGIC)
    while pos < len(body):
        index, size = _PAGE_HEADER.unpack_from(body, pos)
        pos += _PAGE_HEADER.size
        pages.append((index, body[pos:pos + size]))
        pos += size
    return pages


def _apply(fd: int, pages: list[tuple[int, bytes]]) -> None:
    for index, data in pages:
        os.pwrite(fd, data, index * PAGE_BYTES)


class JournaledFile(io.RawIOBase):
    """A read/write binary file whose overwrites of committed bytes are atomic per commit()."""

    def __init__(self, path: str | Path, fsync: bool = True):
        super().__init__()
        self.path = Path(path)
        self.fsync = fsync
        self._fd = os.open(self.path, os.O_RDWR)
        try:
            lock(self._fd, self.path, exclusive=True)
            recover_locked(self._fd, self.path)
        except BaseException:
            os.close(self._fd)
            raise
        self._pos = 0
        self._committed = os.fstat(self._fd).st_size  # bytes below this belong to the last commit
        self._pages: dict[int, bytearray] = {}  # page index -> new content (committed part only)

    # --- io.RawIOBase interface used by h5py's fileobj driver ---------------------------------
    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size()}[whence]
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        data = os.pread(self._fd, len(view), self._pos)
        view[: len(data)] = data
        self._overlay(view, self._pos, len(data))
        self._pos += len(data)
        return len(data)

    def write(self, data) -> int:
        data = memoryview(data).cast("B")
        start, end = self._pos, self._pos + len(data)
        split = min(max(self._committed, start), end)  # [start, split) overwrites committed bytes
        if split > start:
            self._stage(start, data[: split - start])
        if end > split:
            os.pwrite(self._fd, data[split - start:], split)
        self._pos = end
        return len(data)

    def truncate(self, size: int | None = None) -> int:
        # Shrinking could cut committed bytes before the commit: keep them (HDF5 accepts a file
        # longer than its end-of-address). Growing only touches uncommitted space.
        size = self._pos if size is None else size
        if size > self._size():
            os.ftruncate(self._fd, size)
        return size

    def flush(self) -> None:
        pass  # os.pwrite is unbuffered; durability is commit()'s job

    def close(self) -> None:
        if not self.closed:
            if self._pages:
                raise RuntimeError(f"{self.path}: close() with uncommitted changes; commit first")
            os.close(self._fd)
        super().close()

    # --- transactions --------------------------------------------------------------------------
    def commit(self) -> None:
        """Make everything written so far durable and atomic (see the module docstring)."""
        if self._pages:
            journal = journal_path(self.path)
            tmp = Path(f"{journal}.tmp")
            pages = sorted(self._pages.items())
            self._write_journal(tmp, pages)
            os.replace(tmp, journal)  # the commit point
            _apply(self._fd, pages)
        if self.fsync:
            os.fsync(self._fd)
        if self._pages:
            journal_path(self.path).unlink()
            self._pages.clear()
        self._committed = self._size()

    def _write_journal(self, tmp: Path, pages: list[tuple[int, bytearray]]) -> None:
        parts = [_MAGIC]
        for index, page in pages:
            parts += [_PAGE_HEADER.pack(index, len(page)), bytes(page)]
        body = b"".join(parts)
        with open(tmp, "wb") as out:
            out.write(body + zlib.crc32(body).to_bytes(4, "little"))
            out.flush()
            if self.fsync:
                os.fsync(out.fileno())

    # --- page overlay --------------------------------------------------------------------------
    def _size(self) -> int:
        return os.fstat(self._fd).st_size

    def _stage(self, offset: int, data: memoryview) -> None:
        """Copy `data` (entirely below the committed size) into overlay pages at `offset`."""
        done = 0
        while done < len(data):
            index, within = divmod(offset + done, PAGE_BYTES)
            page = self._page(index)
            n = min(len(data) - done, len(page) - within)
            page[within:within + n] = data[done:done + n]
            done += n

    def _page(self, index: int) -> bytearray:
        if index not in self._pages:
            size = min(PAGE_BYTES, self._committed - index * PAGE_BYTES)  # committed part only
            self._pages[index] = bytearray(os.pread(self._fd, size, index * PAGE_BYTES))
        return self._pages[index]

    def _overlay(self, view: memoryview, offset: int, length: int) -> None:
        """Patch `view` (file bytes [offset, offset+length)) with staged pages."""
        if not self._pages:
            return
        first, last = offset // PAGE_BYTES, (offset + length - 1) // PAGE_BYTES
        for index in range(first, last + 1):
            page = self._pages.get(index)
            if page is None:
                continue
            start = index * PAGE_BYTES
            lo, hi = max(offset, start), min(offset + length, start + len(page))
            if hi > lo:
                view[lo - offset:hi - offset] = page[lo - start:hi - start]
