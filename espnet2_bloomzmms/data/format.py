"""Format a data dir for training (the ``dump/raw`` step of ESPnet recipes).

Training reads audio with ESPnet's ``sound`` type, which takes plain files only, so
entries that are pipe commands (``sox ... |``) or ``file.ark:offset`` — as other ESPnet
and Kaldi recipes write them — are written out as 16-bit WAV files; plain files are
referenced as they are. ``utt2num_samples`` (the shape file that length-bucketed
batching reads) is written alongside, and the result is validated.

For training and validation sets, utterances shorter than ``min_samples`` are dropped
from every file (counted in the log, listed in ``DST/dropped_short``), like ESPnet's
``min_wav_duration``: audio that gives the encoder no frame makes a NaN loss, and ESPnet
then skips the whole batch with it. Test sets keep them (decoding skips and lists them).
"""

import logging
import re
import shutil
from pathlib import Path

import soundfile

from espnet2_bloomzmms.audio_io import is_kaldi_entry, read_kaldi_entry
from espnet2_bloomzmms.data import files
from espnet2_bloomzmms.data.datadir import (
    DataDirError,
    read_kv,
    validate_data_dir,
    write_kv,
)
from espnet2_bloomzmms.utils.atomic_files import atomic_path

#: files copied from the source data dir when present (wav.scp is rewritten and
#: utt2num_samples computed here; files.DATA_FILES says which file gets what)
COPIED = tuple(f.name for f in files.DATA_FILES if f.format == files.FMT_COPY)


def format_data_dir(src, dst, sample_rate: int = 16000, min_samples: int = 0) -> int:
    """Copy ``src`` to ``dst`` with plain-file audio and ``utt2num_samples``, without the
    utterances shorter than ``min_samples``; returns the number of utterances."""
    src, dst = Path(src), Path(dst)
    validate_data_dir(src, check_audio=False)
    dst.mkdir(parents=True, exist_ok=True)
    wav = read_kv(src / "wav.scp")
    entries, lengths = {}, {}
    for uid, entry in wav.items():
        entry = entry.strip()
        if is_kaldi_entry(entry):
            out = dst / "data" / f"{uid}.wav"
            if not out.exists():
                try:
                    array, rate = read_kaldi_entry(entry)
                except Exception as e:  # noqa: BLE001 - name the utterance whatever failed
                    raise DataDirError(f"{src}/wav.scp: {uid}: cannot read {entry!r}: {e}") from e
                if rate != sample_rate:
                    raise DataDirError(f"{src}/wav.scp: {uid}: sample rate {rate} Hz, expected {sample_rate} Hz")
                with atomic_path(out) as tmp:
                    soundfile.write(tmp, array, rate, format="WAV", subtype="PCM_16")
            entry = str(out.resolve())
        try:
            lengths[uid] = str(soundfile.info(entry).frames)
        except RuntimeError as e:
            raise DataDirError(f"{src}/wav.scp: {uid}: cannot read {entry!r}: {e}") from e
        entries[uid] = entry
    short = {u: n for u, n in lengths.items() if int(n) < min_samples}
    if len(short) == len(lengths):
        raise DataDirError(f"{src}: all {len(lengths)} utterances are shorter than {min_samples} samples")
    keep = [u for u in wav if u not in short]
    write_kv(dst / "wav.scp", {u: entries[u] for u in keep})
    write_kv(dst / "utt2num_samples", {u: lengths[u] for u in keep})
    for name in COPIED:
        if (src / name).exists():
            if short:
                _copy_without(src / name, dst / name, short)
            else:
                shutil.copyfile(src / name, dst / name)
        elif (dst / name).exists():
            (dst / name).unlink()
    if short:
        write_kv(dst / "dropped_short", short)
        logging.warning("%s: dropped %d of %d utterances shorter than %d samples (%.3f s), listed in %s",
                        src, len(short), len(lengths), min_samples, min_samples / sample_rate, dst / "dropped_short")
    elif (dst / "dropped_short").exists():
        (dst / "dropped_short").unlink()
    n = validate_data_dir(dst, sample_rate=sample_rate, min_samples=min_samples)
    logging.info(f"{dst}: {n} utterances")
    return n


def _copy_without(src: Path, dst: Path, dropped) -> None:
    """Copy ``src`` byte for byte but without the dropped utterances' lines (spk2utt:
    without them in each speaker's list, and without speakers left with none)."""
    lines = []
    for line in src.read_text(encoding="utf-8").split("\n"):  # (only \n ends a line, as in Kaldi)
        if not line:
            continue
        key = re.split("[ \t]", line, maxsplit=1)[0]  # the id ends at the first space or tab
        if src.name == "spk2utt":
            utts = [u for u in line.split()[1:] if u not in dropped]
            if utts:
                lines.append(f"{key} {' '.join(utts)}\n")
        elif key not in dropped:
            lines.append(line + "\n")
    with atomic_path(dst) as tmp:
        tmp.write_text("".join(lines), encoding="utf-8")
