"""What the scoring CLIs share: reading the per-utterance files they are given, turning
scoring errors into usage errors, warning about the utterances left unscored, and
writing ``result.json`` + ``result.md`` beside a decode (atomically)."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

from espnet2_bloomzmms.data.datadir import DataDirError, read_kv
from espnet2_bloomzmms.scoring import behaviour
from espnet2_bloomzmms.utils.atomic_files import atomic_path

__all__ = [
    "add_report_arguments",
    "markdown_tables",
    "parse_scoring_args",
    "publish",
    "read_arg",
    "read_decode",
    "usage_errors",
    "warn_utterances",
    "write_report",
]


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


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """``--name`` and ``--output_dir``, the options :func:`read_decode` and :func:`publish` read."""
    parser.add_argument("--name", default=None, help="system name in the tables (default: the --hyp directory's name)")
    parser.add_argument("--output_dir", type=Path, default=None, help="where result.json / result.md go")


def parse_scoring_args(parser: argparse.ArgumentParser, cmd: Optional[list[str]]) -> argparse.Namespace:
    """``cmd`` parsed, with INFO logging set up for the run."""
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    return args


def read_decode(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[dict, dict, str]:
    """(references, hypotheses, system name): ``--ref``, ``--hyp`` and ``--name``, whose
    default is the name of the directory of ``--hyp`` (the decode)."""
    refs = read_arg(parser, "--ref", args.ref)
    hyps = read_arg(parser, "--hyp", args.hyp)
    return refs, hyps, args.name or args.hyp.resolve().parent.name


@contextlib.contextmanager
def usage_errors(parser: argparse.ArgumentParser, where: Path) -> Iterator[None]:
    """A ``ValueError`` raised inside (files that do not match) is a usage error naming ``where``."""
    try:
        yield
    except ValueError as e:
        parser.error(f"{where}: {e}")


def warn_utterances(ids: Sequence[str], what: str, mark_more: bool = False) -> None:
    """Warn ``<n> utterances <what>: <the first five ids>`` when there are any
    (``mark_more``: end with ``, ...`` when more are left out)."""
    if ids:
        more = ", ..." if mark_more and len(ids) > 5 else ""
        logging.warning(f"{len(ids)} utterances {what}: " + ", ".join(ids[:5]) + more)


def markdown_tables(name: str, result: dict, table: Callable[[dict], str], behaviour_result: dict) -> str:
    """The metric ``table`` of ``result`` and the behaviour table, for the system ``name``."""
    return table({name: result}) + "\n" + behaviour.markdown_table({name: behaviour_result})


def write_report(output_dir: Path, record: dict, markdown: str) -> tuple[Path, Path]:
    """Write ``result.json`` and ``result.md`` under ``output_dir``; returns their paths."""
    paths = (Path(output_dir) / "result.json", Path(output_dir) / "result.md")
    with atomic_path(paths[0]) as tmp:
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    with atomic_path(paths[1]) as tmp:
        tmp.write_text(markdown, encoding="utf-8")
    return paths


def publish(args: argparse.Namespace, name: str, result: dict, table: Callable[[dict], str]) -> dict:
    """Write ``result`` (with its ``behaviour``) as ``result.json`` + ``result.md`` to
    ``--output_dir`` (default: beside ``--hyp``), print the Markdown; returns the record."""
    record = {"name": name, "ref": str(args.ref), "hyp": str(args.hyp), **result}
    markdown = markdown_tables(name, result, table, result["behaviour"])
    json_path, _ = write_report(args.output_dir or args.hyp.parent, record, markdown)
    sys.stdout.write(markdown)
    sys.stdout.flush()
    logging.info(f"wrote {json_path} and result.md")
    return record
