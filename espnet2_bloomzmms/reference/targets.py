"""The authors' multi-instruction training targets (Zenodo record 10900287,
``tmi_training_targets.tar.gz``) as our T / MI / TMI data dirs.

The archive holds three files with one line per training example,
``<base uttid>-<k> <BLOOMZ token ids>`` (space-separated; an empty instruction leaves only
the id): ``text`` (the answer), ``decoder_prefix`` and ``decoder_postfix``. The entry whose
instruction is the ASR one (``Repeat the sentence: `` / ``. ``) is the T example of its
utterance; the others are MI examples (BLOOMZ-7b1's own answers).

Ids: the authors' base ids (their ``train_t_sp``: FLEURS train + a Common Voice subsample,
speed-perturbed with Kaldi's ``sp0.9-``/``sp1.1-`` prefixes) are matched to the ids of our
training dir: the same id, else the same speed prefix and the same clip, recognised by
the Common Voice clip name (``common_voice_de_17298952``), or, in ids without one, by a
long number (FLEURS' audio file names), where that clip is one utterance of ours (a Common
Voice id is never matched by a number: its speaker hash may hold digits). Ids matching
none, or several, are counted and left out.

The token ids become text (prefix/postfix as JSON strings in our dirs); where re-encoding
that text does not give the same ids (a tokenizer other than theirs, or a cut inside a
character) the example is kept with the re-encoded ids and counted.
"""

import re
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Tuple, Union

from espnet2_bloomzmms.data.datadir import read_kv
from espnet2_bloomzmms.data.instruction_sets import CARRIED_FIELDS, write_variant
from espnet2_bloomzmms.preprocessor import DEFAULT_POSTFIX, DEFAULT_PREFIX

FILES = ("text", "decoder_prefix", "decoder_postfix")
ASR_INSTRUCTION = (DEFAULT_PREFIX, DEFAULT_POSTFIX)  # the authors' T instruction, as ours
SPEED_PREFIX = re.compile(r"^(sp\d+(?:\.\d+)?-)?(.*)$")
CV_CLIP = re.compile(r"common_voice_[A-Za-z]+(?:-[A-Za-z]+)?_\d+")
LONG_NUMBER = re.compile(r"(?<!\d)\d{6,}(?!\d)")
ENTRY = re.compile(r"^(.+)-(\d+)$")


class TargetsError(ValueError):
    """The archive differs from the documented format, or nothing in it matches our data."""


@dataclass
class Entry:
    text: List[int]
    prefix: List[int]
    postfix: List[int]


@dataclass
class ImportCounts:
    entries: int = 0
    matched_utterances: int = 0
    unmatched_ids: List[str] = field(default_factory=list)
    ambiguous_ids: List[str] = field(default_factory=list)
    t_examples: int = 0
    mi_examples: int = 0
    empty_answers: int = 0
    answers_trimmed: int = 0
    reencoding_mismatches: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {"entries": self.entries, "matched_utterances": self.matched_utterances,
                "unmatched_ids": len(self.unmatched_ids), "ambiguous_ids": len(self.ambiguous_ids),
                "examples_of_unmatched_ids": self.unmatched_ids[:5], "t_examples": self.t_examples,
                "mi_examples": self.mi_examples, "empty_answers_dropped": self.empty_answers,
                "answers_trimmed": self.answers_trimmed,
                "reencoding_mismatches": dict(self.reencoding_mismatches)}


def _parse(name: str, lines: List[str], where: str) -> Dict[str, List[int]]:
    out = {}
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        uid, _, ids = line.rstrip("\n").partition(" ")
        if uid in out:
            raise TargetsError(f"{where}/{name}:{lineno}: duplicate id {uid}")
        try:
            out[uid] = [int(i) for i in ids.split()]
        except ValueError as e:
            raise TargetsError(f"{where}/{name}:{lineno}: expected '<uttid> <token ids>', got {line[:80]!r}") from e
    return out


def read_targets(path: Union[str, Path]) -> Dict[str, Entry]:
    """The archive's examples by id, from its extracted directory or the ``.tar.gz``
    itself (only the three files are read; nothing is extracted)."""
    path = Path(path)
    contents: Dict[str, Dict[str, str]] = {name: {} for name in FILES}  # file name -> {where: text}
    if path.is_dir():
        for name in FILES:
            contents[name] = {str(f): f.read_text(encoding="utf-8") for f in sorted(path.rglob(name)) if f.is_file()}
    elif path.is_file() and tarfile.is_tarfile(path):
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                if member.isfile() and Path(member.name).name in FILES:
                    text = tar.extractfile(member).read().decode("utf-8")
                    contents[Path(member.name).name][member.name] = text
    else:
        raise TargetsError(f"{path}: neither the extracted targets directory nor the .tar.gz archive")
    texts: Dict[str, List[str]] = {}
    for name, places in contents.items():
        if not places:
            raise TargetsError(f"{path}: no file {name} (the archive has text, decoder_prefix, decoder_postfix)")
        if len(places) > 1:
            raise TargetsError(f"{path}: several files {name} ({', '.join(places)}): give the directory of one set")
        texts[name] = next(iter(places.values())).splitlines()
    columns = {name: _parse(name, lines, str(path)) for name, lines in texts.items()}
    ids = set(columns["text"])
    for name in FILES[1:]:
        if set(columns[name]) != ids:
            odd = sorted(ids ^ set(columns[name]))
            raise TargetsError(f"{path}: {name} and text have different ids, e.g. {odd[:3]}")
    for uid in ids:
        if not ENTRY.match(uid):
            raise TargetsError(f"{path}/text: id {uid!r} does not end in -<k> (<base uttid>-<k>)")
    return {uid: Entry(columns["text"][uid], columns["decoder_prefix"][uid], columns["decoder_postfix"][uid])
            for uid in sorted(ids)}


def _keys(base: str) -> List[str]:
    """What identifies a clip in an id: the id itself, then its Common Voice clip name, or
    (in ids without one) its long numbers."""
    return [base] + (CV_CLIP.findall(base) or LONG_NUMBER.findall(base))


def match_ids(theirs: List[str], ours: List[str]) -> Tuple[Dict[str, str], List[str], List[str]]:
    """({their base id: our id}, unmatched, ambiguous); see the module docstring."""
    index: Dict[Tuple[str, str], set] = {}
    for uid in ours:
        speed, base = SPEED_PREFIX.match(uid).groups()
        for key in _keys(base):
            index.setdefault((speed or "", key), set()).add(uid)
    ours_set = set(ours)
    matched, unmatched, ambiguous = {}, [], []
    for uid in theirs:
        if uid in ours_set:
            matched[uid] = uid
            continue
        speed, base = SPEED_PREFIX.match(uid).groups()
        candidates = [index.get((speed or "", key), set()) for key in _keys(base)[1:]]
        unique = [c for c in candidates if len(c) == 1]
        if unique:
            matched[uid] = next(iter(unique[0]))
        elif any(candidates):
            ambiguous.append(uid)
        else:
            unmatched.append(uid)
    return matched, unmatched, ambiguous


def import_reference_targets(targets: Union[str, Path], train_dir: Union[str, Path], dst_prefix: str, tokenizer,
                             variants: Tuple[str, ...] = ("T", "MI", "TMI")) -> ImportCounts:
    """Write ``<dst_prefix>_{T,MI,TMI}`` from the archive and our training dir."""
    train_dir = Path(train_dir)
    entries = read_targets(targets)
    text = read_kv(train_dir / "text")
    carried = {f.field: read_kv(train_dir / f.name) for f in CARRIED_FIELDS if (train_dir / f.name).is_file()}
    counts = ImportCounts(entries=len(entries))
    bases = {uid: ENTRY.match(uid).group(1) for uid in entries}
    matched, counts.unmatched_ids, counts.ambiguous_ids = match_ids(sorted(set(bases.values())), sorted(text))
    if not matched:
        raise TargetsError(f"{targets}: none of its {len(set(bases.values()))} utterance ids matches one of "
                           f"{train_dir}/text (e.g. {sorted(set(bases.values()))[:3]} vs {sorted(text)[:3]})")
    counts.matched_utterances = len(set(matched.values()))
    asr_ids = [tokenizer(part, add_special_tokens=False)["input_ids"] for part in ASR_INSTRUCTION]

    def as_text(ids: List[int], what: str) -> str:
        decoded = tokenizer.decode(ids)
        if tokenizer(decoded, add_special_tokens=False)["input_ids"] != ids:
            counts.reencoding_mismatches[what] += 1
        return decoded

    t_utts, mi_utts, origin = {}, {}, {}
    for uid, entry in entries.items():
        base = bases[uid]
        if base not in matched:
            continue
        ours = matched[base]
        decoded = as_text(entry.text, "text")
        answer = decoded.strip()  # (a data dir's text has no leading or trailing blanks)
        counts.answers_trimmed += answer != decoded
        if not answer:
            counts.empty_answers += 1
            continue
        fields = {f: column[ours] for f, column in carried.items()}
        fields.update(text=answer, prefix=as_text(entry.prefix, "prefix"), postfix=as_text(entry.postfix, "postfix"))
        if [entry.prefix, entry.postfix] == asr_ids and ours not in t_utts:
            t_utts[ours] = fields
            origin[ours] = ours
        else:
            new = f"{ours}-{ENTRY.match(uid).group(2)}"
            mi_utts[new] = fields
            origin[new] = ours
    counts.t_examples, counts.mi_examples = len(t_utts), len(mi_utts)
    for name, utts in (("T", t_utts), ("MI", mi_utts), ("TMI", {**t_utts, **mi_utts})):
        if name in variants:
            if not utts:
                raise TargetsError(f"{targets}: no {name} examples for the utterances of {train_dir}")
            write_variant(Path(f"{dst_prefix}_{name}"), train_dir, utts, {u: origin[u] for u in utts}, text)
    return counts
