"""What the scoring CLIs share: reading the per-utterance files they are given, and
writing ``result.json`` + ``result.md`` beside a decode (atomically)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Optional

from espnet2_bloomzmms.data.datadir import DataDirError, atomic_path, read_kv

__all__ = ["read_arg", "write_report"]


def read_arg(parser: argparse.ArgumentParser, option: str, path: Optional[Path]) -> Optional[dict[str, str]]:
    """``<uttid> <value>`` lines of the file given to ``option`` (None when not given);
    a missing or malformed file is a usage error naming the option and the file."""
    if path is None:
        return None
    if not path.is_file():
        parser.error(f"{option}: file is missing: {path}")
    try:
        return read_kv(path, escape=False)
    except (DataDirError, UnicodeDecodeError) as e:
        parser.error(f"{option}: {e}")


def write_report(output_dir: Path, record: dict, markdown: str) -> tuple[Path, Path]:
    """Write ``result.json`` and ``result.md`` under ``output_dir``; returns their paths."""
    paths = (Path(output_dir) / "result.json", Path(output_dir) / "result.md")
    with atomic_path(paths[0]) as tmp:
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    with atomic_path(paths[1]) as tmp:
        tmp.write_text(markdown, encoding="utf-8")
    return paths
