"""Atomic writes: a reader, or a job killed mid-write, sees the old file (or directory)
or the complete new one, never half of one."""

import fcntl
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Union

PathLike = Union[str, "os.PathLike[str]"]


@contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temp path next to ``path``; on success move it over ``path`` (os.replace).

    Readers (and interrupted recipes) never see a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_dir_atomically(out_dir: PathLike, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_dir)`` on a temp dir next to ``out_dir``, then rename it into place
    (a model dir is either the old one or the complete new one, never half written)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        write(tmp)
        old = None
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.old{os.getpid()}"
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def build_dir_once(out_dir: PathLike, write: Callable[[Path], None], is_current: Callable[[], bool]) -> None:
    """Make ``out_dir`` with ``write`` (as :func:`write_dir_atomically`) unless ``is_current()``
    says a complete one is there. Safe when several processes (decoding jobs) ask at once:
    the build holds an exclusive lock (``<out_dir>.lock``), the others wait and then reuse
    its result; what a killed build left behind is removed first, never reused."""
    out_dir = Path(out_dir)
    if is_current():
        return
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(out_dir.with_name(out_dir.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if killed
        if is_current():  # another process built it while this one waited
            return
        for stale in out_dir.parent.glob(f".{out_dir.name}.*[0-9]"):  # a killed build's (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        write_dir_atomically(out_dir, write)  # replaces an out-of-date one
