"""Files that grow a line at a time and survive a kill: the answers of a resumable
decode or target generation. A kill can cut the last line anywhere, even inside a
multi-byte character; readers take complete lines only, and a writer first cuts the file
back to its last complete line, so nothing is ever glued onto a cut-off line."""

import os
from pathlib import Path
from typing import Iterator, TextIO


def complete_lines(path) -> Iterator[str]:
    """The complete (newline-terminated) lines of ``path``, decoded, without the newline."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, "rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                return  # cut off by a kill: it is written again
            yield raw[:-1].decode("utf-8")


def trim_cut_line(path) -> None:
    """Cut ``path`` back to its last complete line (reading backwards from the end)."""
    path = Path(path)
    if not path.exists() or not path.stat().st_size:
        return
    with open(path, "r+b") as f:
        end = f.seek(0, os.SEEK_END)
        f.seek(end - 1)
        if f.read(1) == b"\n":
            return
        pos = end
        while pos > 0:
            start = max(0, pos - (1 << 16))
            f.seek(start)
            cut = f.read(pos - start).rfind(b"\n")
            if cut >= 0:
                pos = start + cut + 1
                break
            pos = start
        f.truncate(pos)


def open_for_append(path) -> TextIO:
    """``path`` opened to append lines (UTF-8, ``\\n``), after any cut-off line is removed."""
    trim_cut_line(path)
    return open(path, "a", encoding="utf-8", newline="\n")


def flush(f: TextIO) -> None:
    """To the disk, so that a kill loses at most the line being written."""
    f.flush()
    os.fsync(f.fileno())
