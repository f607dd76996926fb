"""Writing the data dirs of instruction training (T, MI, TMI): every copy of an utterance
(``u`` in T, ``u-<k>`` in MI) keeps its source's audio, speaker, language and sizes, and
gets the source's transcript (the CTC target where ``text`` is an instruction's answer)."""

from pathlib import Path
from typing import Dict

from espnet2_bloomzmms.data import files
from espnet2_bloomzmms.data.datadir import read_kv, validate_data_dir, write_data_dir, write_kv

#: what every copy of an utterance keeps of the source's (files.DATA_FILES'
#: instruction_targets "carry"): utts-dict fields (wav, spk, lang) ...
CARRIED_FIELDS = tuple(f for f in files.DATA_FILES if f.instruction_targets == files.IT_CARRY and f.field)
#: ... and the other per-utterance files, copied when the source has them (utt2num_samples)
EXTRA_FILES = tuple(f.name for f in files.DATA_FILES if f.instruction_targets == files.IT_CARRY and not f.field)


def write_variant(dst: Path, src: Path, utts: Dict[str, dict], origin: Dict[str, str],
                  transcripts: Dict[str, str]) -> int:
    """Write a data dir of ``utts`` ({new id: fields}) and their transcripts (by source
    id); ``origin`` maps new -> source id."""
    write_data_dir(dst, utts)
    write_kv(dst / "transcript", {new: transcripts[old] for new, old in origin.items()})
    for name in EXTRA_FILES:
        if (src / name).exists():
            values = read_kv(src / name)
            write_kv(dst / name, {new: values[old] for new, old in origin.items()})
    return validate_data_dir(dst, check_audio=False)
