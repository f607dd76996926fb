"""A decode directory's files besides the answers: the record of the model, data and
settings that made them (``decode_settings.yaml``), the answers appended so far
(``<output>.partial``), the skip list, and the moves and writes that keep them consistent
across reruns, kills and decodes merged from several jobs. (No model code: the job merger
imports it without loading torch or ESPnet.)"""

import hashlib
import logging
import os
import shutil
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from espnet2_bloomzmms.data.datadir import DataDirError, read_kv, write_kv
from espnet2_bloomzmms.utils.append_files import complete_lines
from espnet2_bloomzmms.utils.atomic_files import atomic_path

SETTINGS_FILE = "decode_settings.yaml"
OUTPUTS = ("text", "text_ctc")  #: the LLM's answers, the CTC head's greedy output


def file_id(path) -> dict:
    """What identifies a local file without reading it all: its path, size and mtime."""
    path = Path(path).resolve()
    stat = path.stat()
    return {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def sha256(path: Path) -> Optional[str]:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def differences(old: dict, new: dict, where: str = "") -> List[str]:
    """``key: old -> new`` for every setting two records disagree on (nested keys dotted)."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, f"{where}{key}.")
        elif a != b:
            out.append(f"{where}{key}: {a!r} -> {b!r}")
    return out


def read_partial(path: Path) -> Dict[str, str]:
    """Answers appended so far; a last line cut off by a kill is dropped (decoded again)."""
    done = {}
    for line in complete_lines(path):
        uttid, _, text = line.partition(" ")
        done[uttid] = text
    return done


def read_done(out_dir: Path, name: str) -> Dict[str, str]:
    """The answers of ``out_dir/name`` so far: the final file, then what was appended."""
    done = {}
    if (out_dir / name).is_file():
        try:
            done.update(read_kv(out_dir / name))
        except (DataDirError, UnicodeDecodeError):
            pass
    done.update(read_partial(out_dir / f"{name}.partial"))
    return done


def replace_earlier_results(out_dir: Path, why: List[str]) -> None:
    """Move every result made with other settings (all outputs, partial or not, the skip
    list and their record) to DECODE_DIR/replaced/, which holds the latest such set only."""
    names = (SETTINGS_FILE, "skipped", *OUTPUTS, *(f"{n}.partial" for n in OUTPUTS))
    earlier = [out_dir / n for n in names if (out_dir / n).is_file()]
    if not earlier:
        return
    replaced = out_dir / "replaced"
    shutil.rmtree(replaced, ignore_errors=True)
    replaced.mkdir()
    for p in earlier:
        os.replace(p, replaced / p.name)
    logging.warning("%s was decoded with other settings (%s): moved its results to %s and decoding afresh",
                    out_dir, "; ".join(why) if why else "no settings record", replaced)


def write_results(out_dir: Path, names: List[str], done: Dict[str, Dict[str, str]], uttids: List[str],
                  skipped: Dict[str, str], settings: dict) -> None:
    """The final, sorted outputs (atomically), the skip list and the settings record; the
    partial files they replace are removed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / SETTINGS_FILE) as tmp:
        tmp.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), encoding="utf-8")
    for n in names:
        write_kv(out_dir / n, {u: done[n][u] for u in uttids if u in done[n]}, escape=False)
        (out_dir / f"{n}.partial").unlink(missing_ok=True)
    if skipped:
        write_kv(out_dir / "skipped", skipped, escape=False)
    else:
        (out_dir / "skipped").unlink(missing_ok=True)
