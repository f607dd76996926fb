"""Instruction templates for multi-instructional training.

A template pool is a TSV file, one template per line::

    id <TAB> task <TAB> split <TAB> prefix <TAB> postfix

``prefix``/``postfix`` go around the utterance (its speech, or its transcript when the
text LLM answers); ``{lang}`` in them is replaced by the utterance's language name,
``{target}`` by another language's name drawn for the utterance (see :func:`draw_target`;
as the authors' pool names random target languages), and ``\\n`` stands for a newline. ``split`` is ``train`` for templates used in training and
anything else (``heldout``) for templates kept for zero-shot tests.
"""

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

_ESCAPES = {"\\n": "\n", "\\t": "\t"}


@dataclass(frozen=True)
class Template:
    id: str
    task: str
    split: str
    prefix: str
    postfix: str

    @property
    def needs_target(self) -> bool:
        return "{target}" in self.prefix or "{target}" in self.postfix

    def render(self, lang_name: str, target_name: Optional[str] = None) -> Tuple[str, str]:
        """(prefix, postfix) for an utterance in the language called ``lang_name``
        (``target_name``: the language ``{target}`` names)."""
        if self.needs_target and target_name is None:
            raise ValueError(f"template {self.id} names a {{target}} language: give one")

        def fill(text: str) -> str:
            return text.replace("{lang}", lang_name).replace("{target}", target_name or "")

        return fill(self.prefix), fill(self.postfix)


def _unescape(field: str) -> str:
    for escaped, char in _ESCAPES.items():
        field = field.replace(escaped, char)
    return field


def read_templates(path) -> List[Template]:
    templates = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").split("\n"), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 5:
            raise ValueError(f"{path}:{lineno}: expected 5 tab-separated fields (id, task, split, prefix, postfix), got {len(fields)}")
        templates.append(Template(*fields[:3], _unescape(fields[3]), _unescape(fields[4])))
    ids = [t.id for t in templates]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{path}: duplicate template ids {duplicates}")
    return templates


def read_prompt_pairs(path, id_prefix: str = "x") -> List[Template]:
    """Training templates from a JSON list of ``[prefix, postfix]`` pairs (the format of
    the authors' ``data/synthetic-targets/templates.json``: 4 300 xP3 prompts with the
    language names written in); ids are ``<id_prefix><index>``."""
    import json

    try:
        pairs = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a JSON file of [prefix, postfix] pairs ({e})") from e
    if not isinstance(pairs, list) or not pairs:
        raise ValueError(f"{path}: expected a non-empty JSON list of [prefix, postfix] pairs")
    templates = []
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise ValueError(f"{path}: entry {i} is not a [prefix, postfix] pair of strings: {pair!r:.80}")
        templates.append(Template(f"{id_prefix}{i}", "mi", "train", pair[0], pair[1]))
    return templates


def read_language_names(path) -> Dict[str, str]:
    """code -> English name, from a TSV whose first two columns are those."""
    rows = [line.split("\t") for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return {row[0]: row[1] for row in rows}


def draw_templates(uttids: Sequence[str], pool: Sequence[Template], k: int, seed: int) -> Dict[str, List[Template]]:
    """``k`` distinct templates per utterance, reproducibly: each utterance has its own
    generator seeded by (seed, utterance id), so adding or removing utterances does not
    change the draws of the others."""
    if k > len(pool):
        raise ValueError(f"cannot draw {k} distinct templates from a pool of {len(pool)}")
    return {uid: random.Random(f"{seed}:{uid}").sample(list(pool), k) for uid in uttids}


def draw_target(uttid: str, template: Template, lang_name: str, names: Sequence[str], seed: int) -> Optional[str]:
    """The ``{target}`` language of ``template`` for one utterance: one of ``names`` other
    than the utterance's own, drawn reproducibly from (seed, utterance, template); None
    for a template without ``{target}``."""
    if not template.needs_target:
        return None
    others = sorted(set(names) - {lang_name})
    if not others:
        raise ValueError(f"template {template.id}: no {{target}} language other than {lang_name}")
    return random.Random(f"{seed}:{uttid}:{template.id}:target").choice(others)
