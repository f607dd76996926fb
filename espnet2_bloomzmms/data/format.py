"""Format a data dir for training (the ``dump/raw`` step of ESPnet recipes).

Training reads audio with ESPnet's ``sound`` type, which takes plain files only, so
entries that are pipe commands (``sox ... |``) or ``file.ark:offset`` — as other ESPnet
and Kaldi recipes write them — are written out as 16-bit WAV files; plain files are
referenced as they are. ``utt2num_samples`` (the shape file that length-bucketed
batching reads) is written alongside, and the result is validated.
"""

import logging
import shutil
from pathlib import Path

import kaldiio
import numpy as np
import soundfile

from espnet2_bloomzmms.data.datadir import (
    DataDirError,
    _is_kaldi_entry,
    atomic_path,
    read_kv,
    validate_data_dir,
    write_kv,
)

#: files copied from the source data dir when present
COPIED = ("text", "utt2spk", "spk2utt", "utt2lang", "prefix", "postfix", "utt2uniq")


def format_data_dir(src, dst, sample_rate: int = 16000) -> int:
    """Copy ``src`` to ``dst`` with plain-file audio and ``utt2num_samples``; returns
    the number of utterances."""
    src, dst = Path(src), Path(dst)
    validate_data_dir(src, check_audio=False)
    dst.mkdir(parents=True, exist_ok=True)
    wav = read_kv(src / "wav.scp")
    kaldi = kaldiio.load_scp(str(src / "wav.scp")) if any(map(_is_kaldi_entry, wav.values())) else None
    entries, lengths = {}, {}
    for uid, entry in wav.items():
        entry = entry.strip()
        if _is_kaldi_entry(entry):
            out = dst / "data" / f"{uid}.wav"
            if not out.exists():
                try:
                    rate, array = kaldi[uid]
                except Exception as e:  # noqa: BLE001 - name the utterance whatever failed
                    raise DataDirError(f"{src}/wav.scp: {uid}: cannot read {entry!r}: {e}") from e
                if rate != sample_rate:
                    raise DataDirError(f"{src}/wav.scp: {uid}: sample rate {rate} Hz, expected {sample_rate} Hz")
                with atomic_path(out) as tmp:
                    soundfile.write(tmp, np.asarray(array), rate, format="WAV", subtype="PCM_16")
            entry = str(out.resolve())
        try:
            lengths[uid] = str(soundfile.info(entry).frames)
        except RuntimeError as e:
            raise DataDirError(f"{src}/wav.scp: {uid}: cannot read {entry!r}: {e}") from e
        entries[uid] = entry
    write_kv(dst / "wav.scp", entries)
    write_kv(dst / "utt2num_samples", lengths)
    for name in COPIED:
        if (src / name).exists():
            shutil.copyfile(src / name, dst / name)
    n = validate_data_dir(dst, sample_rate=sample_rate)
    logging.info(f"{dst}: {n} utterances")
    return n
