"""The one registry of the files of a data dir, and what every step does with each.

Each file is declared once in ``DATA_FILES``: its name, what a line's value holds, how
it is read and written (``kind``), and what the pipeline does with it.  The lists that
the steps work from are derived here, so a new file reaches all of them or, by an
explicit ``None``, none:

- ``datadir``: the utts-dict fields (``FIELD_FILES``), the files every data dir needs
  (``REQUIRED_FILES``), the JSON-string files (``ESCAPED_FILES``), the one-token files;
- ``speed_perturb``: what each file becomes in the perturbed dir (``speed_perturb``);
- ``format``: what formatting copies or recomputes (``format``);
- the task and ``bloomzmms.sh``: what training reads, under which ESPnet data name and
  loader type (``training``; ``python -m espnet2_bloomzmms.data.files --training_args
  train DIR`` prints the options), and the shape file (``shape_file``);
- ``bin/make_instruction_targets``: what the T / MI / TMI dirs carry from the source
  utterance or write anew (``instruction_targets``);
- ``bin/inference``: what decoding reads from the data dir (``decoded``).

Line format of every file: ``<key><space or tab><value>``, sorted by key in C/byte
order (see ``datadir``); the key is the utterance id, for ``spk2utt`` the speaker.
Not listed (not keyed by the dir's utterances): ``answers`` and ``task`` of an NLU dir,
``dropped_short`` (formatting's list of the utterances it dropped), ``segments``
(refused: cut recordings into utterances first).

This module imports nothing of the package, so the shell pipeline can ask it cheaply.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import NamedTuple, Optional, Sequence

__all__ = [
    "DATA_FILES",
    "DataFile",
    "ESCAPED_FILES",
    "FIELD_FILES",
    "REQUIRED_FILES",
    "TOKEN_FILES",
    "Training",
    "by_name",
    "data_file",
    "decoded_files",
    "optional_data_names",
    "required_data_names",
    "training_options",
]

# kinds: how a value is read and written
SOUND = "sound"  # audio: a file path, a ``cmd ... |`` pipe or ``file.ark:offset`` (kaldiio)
TEXT = "text"  # the value verbatim, on one line
TOKEN = "token"  # one non-empty token without whitespace
JSON = "json"  # a JSON string (may hold trailing spaces and newlines: instructions)
COUNT = "count"  # a non-negative integer
IDS = "ids"  # utterance ids separated by spaces (spk2utt)

# speed_perturb: what the file becomes in the perturbed dir (None: not carried, warned)
SP_AUDIO = "audio"  # each factor's audio written, wav.scp pointing to it
SP_COPY = "copy"  # the value copied to every factor's copy (id ``sp0.9-<uttid>``)
SP_PREFIX = "prefix"  # copied with the factor's prefix on the value too (``sp0.9-<spk>``)
SP_RECOMPUTE = "recompute"  # recomputed from the perturbed audio (utt2num_samples)
SP_DERIVE = "derive"  # derived from another file (spk2utt from utt2spk)
SP_WRITE = "write"  # written by perturbation (utt2uniq: copy -> original utterance)

# format: what formatting does (None: not copied)
FMT_AUDIO = "audio"  # rewritten: pipes and arks become WAV files
FMT_COPY = "copy"  # copied byte for byte (without the lines of dropped short utterances)
FMT_RECOMPUTE = "recompute"  # written from the audio (utt2num_samples)

# instruction_targets: the T / MI / TMI dirs (None: not carried)
IT_CARRY = "carry"  # every copy of an utterance gets the source utterance's value
IT_WRITE = "write"  # written anew (the instruction, its target; transcript = source text)
IT_DERIVE = "derive"  # derived (spk2utt)

# Training.required: when ESPnet's data loader must have the file
ALWAYS = "always"  # training, validation and inference
TRAINING = "training"  # training and validation, not inference


class Training(NamedTuple):
    """How training reads a file: ``--{split}_data_path_and_name_and_type FILE,name,loader``."""

    name: str  # ESPnet's data name (the model's forward argument)
    loader: str  # ESPnet's loader type
    required: Optional[str] = None  # ALWAYS, TRAINING or None (read when present)


@dataclass(frozen=True)
class DataFile:
    name: str
    holds: str
    kind: str
    field: Optional[str] = None  # key in write_data_dir / read_data_dir utts dicts
    required: bool = False  # every data dir has it (validate_data_dir's default)
    keyed_by: str = "utterance"
    speed_perturb: Optional[str] = None
    format: Optional[str] = None
    training: Optional[Training] = None
    shape_file: bool = False  # ESPnet's ``--{split}_shape_file`` (length-bucketed batching)
    instruction_targets: Optional[str] = None
    decoded: bool = False  # bin/inference reads it from the data dir


DATA_FILES: tuple[DataFile, ...] = (
    DataFile("wav.scp", "the audio: a file path, a 'cmd ... |' pipe or file.ark:offset", SOUND, field="wav",
             required=True, speed_perturb=SP_AUDIO, format=FMT_AUDIO,
             training=Training("speech", "sound", ALWAYS), instruction_targets=IT_CARRY, decoded=True),
    DataFile("text", "the target text: transcript, translation or label word", TEXT, field="text",
             required=True, speed_perturb=SP_COPY, format=FMT_COPY,
             training=Training("text", "text", TRAINING), instruction_targets=IT_WRITE),
    DataFile("utt2spk", "the speaker id", TOKEN, field="spk", required=True, speed_perturb=SP_PREFIX,
             format=FMT_COPY, instruction_targets=IT_CARRY),
    DataFile("spk2utt", "a speaker's utterance ids (derived from utt2spk)", IDS, keyed_by="speaker",
             speed_perturb=SP_DERIVE, format=FMT_COPY, instruction_targets=IT_DERIVE),
    DataFile("utt2lang", "the language code of the speech", TOKEN, field="lang", speed_perturb=SP_COPY,
             format=FMT_COPY, training=Training("lang", "text"), instruction_targets=IT_CARRY),
    DataFile("prefix", "the instruction before the speech", JSON, field="prefix", speed_perturb=SP_COPY,
             format=FMT_COPY, training=Training("prefix", "text"), instruction_targets=IT_WRITE, decoded=True),
    DataFile("postfix", "the instruction after the speech", JSON, field="postfix", speed_perturb=SP_COPY,
             format=FMT_COPY, training=Training("postfix", "text"), instruction_targets=IT_WRITE, decoded=True),
    DataFile("transcript", "the speech as text, whatever text is: the CTC target of instruction training, "
             "the gold text of the text baselines", TEXT, speed_perturb=SP_COPY, format=FMT_COPY,
             training=Training("transcript", "text"), instruction_targets=IT_WRITE),
    DataFile("utt2num_samples", "the audio's length in samples", COUNT, speed_perturb=SP_RECOMPUTE,
             format=FMT_RECOMPUTE, shape_file=True, instruction_targets=IT_CARRY),
    DataFile("utt2uniq", "the original utterance of a speed-perturbed copy", TOKEN, speed_perturb=SP_WRITE,
             format=FMT_COPY),
    # a spoken sentence pair (NLU): evaluation only, decoded from data/ as prepared
    DataFile("wav2.scp", "the second sentence's audio of a spoken sentence pair", SOUND, decoded=True),
    DataFile("transcript2", "the second sentence of a spoken sentence pair as text", TEXT),
    DataFile("middle", "the prompt text between the two sentences of a spoken pair", JSON, decoded=True),
    # speech translation: evaluation only
    DataFile("utt2pair", "'<source code> <target code>' of a translation (score_st)", TEXT),
)

by_name: dict[str, DataFile] = {f.name: f for f in DATA_FILES}

#: utts-dict field -> file name (write_data_dir / read_data_dir), in registry order
FIELD_FILES: dict[str, str] = {f.field: f.name for f in DATA_FILES if f.field is not None}
#: files every data dir has (validate_data_dir's default ``required``)
REQUIRED_FILES: tuple[str, ...] = tuple(f.name for f in DATA_FILES if f.required)
#: files whose values are JSON strings (instructions: trailing spaces, newlines)
ESCAPED_FILES: frozenset[str] = frozenset(f.name for f in DATA_FILES if f.kind == JSON)
#: files whose value is one token
TOKEN_FILES: frozenset[str] = frozenset(f.name for f in DATA_FILES if f.kind == TOKEN)


def data_file(name: str) -> DataFile:
    """The registry entry of the file ``name``."""
    try:
        return by_name[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a data-dir file of espnet2_bloomzmms.data.files") from None


def _trained(required: Optional[str]) -> tuple[str, ...]:
    return tuple(f.training.name for f in DATA_FILES if f.training is not None and f.training.required == required)


def required_data_names(inference: bool = False) -> tuple[str, ...]:
    """ESPnet data names the task requires: ``("speech", "text")``, for inference ``("speech",)``."""
    return _trained(ALWAYS) + (() if inference else _trained(TRAINING))


def optional_data_names() -> tuple[str, ...]:
    """ESPnet data names the task reads when the data dir has them."""
    return _trained(None)


def decoded_files() -> tuple[str, ...]:
    """The data-dir files decoding (bin/inference) reads."""
    return tuple(f.name for f in DATA_FILES if f.decoded)


def training_options(split: str, data_dir: str) -> list[str]:
    """ESPnet's data options for training or validating (``split`` train / valid) on
    ``data_dir``: the shape file and the required files always, the optional ones that
    the dir has.  Paths are ``data_dir + "/" + name``, as given (relative stays relative)."""
    if split not in ("train", "valid"):
        raise ValueError(f"split must be train or valid, got {split!r}")
    d = os.fspath(data_dir)
    opts = []
    for f in DATA_FILES:
        if f.shape_file:
            opts += [f"--{split}_shape_file", f"{d}/{f.name}"]
    for f in DATA_FILES:
        if f.training is not None and (f.training.required is not None or os.path.exists(f"{d}/{f.name}")):
            opts += [f"--{split}_data_path_and_name_and_type", f"{d}/{f.name},{f.training.name},{f.training.loader}"]
    return opts


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m espnet2_bloomzmms.data.files",
                                     description="The registry of data-dir files.")
    parser.add_argument("--training_args", nargs=2, metavar=("SPLIT", "DIR"), required=True,
                        help="print ESPnet's data options for training (SPLIT train) or validation (valid) on DIR")
    args = parser.parse_args(argv)
    split, data_dir = args.training_args
    if not os.path.isdir(data_dir):
        parser.error(f"--training_args: {data_dir} is not a directory")
    try:
        print(" ".join(training_options(split, data_dir)))
    except ValueError as e:
        parser.error(f"--training_args: {e}")


if __name__ == "__main__":
    main()
