"""Zero-shot NLU tasks: fields, prompt template, label words and metrics, read from the
data file ``prompts/nlu.yaml`` (see its header for the format).

One text field of an example is spoken; the template's text before that field's
placeholder is the instruction prefix, the text after it the postfix, with the other
fields written in. Or, for two-sentence tasks, both are spoken: the template splits into
prefix, middle and postfix around them. The answer is constrained to the task's label
words.
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Union

import yaml

from espnet2_bloomzmms.data.prompt_files import prompt_file

__all__ = ["METRICS", "NLUTask", "get_task", "load_tasks", "normalize_answer"]

#: metric names a task may list, as GLUE defines them
METRICS = ("accuracy", "f1", "mcc", "pearson", "spearman")
_STRIP = string.punctuation + string.whitespace + "“”„«»‘’。！？、"


def normalize_answer(text: str) -> str:
    """Case-folded, surrounding punctuation and quotes removed, spaces collapsed."""
    return " ".join(text.strip(_STRIP).casefold().split())


@dataclass(frozen=True)
class NLUTask:
    name: str
    fields: tuple[str, ...]
    template: str
    answers: tuple[str, ...]
    metrics: tuple[str, ...]
    labels: Optional[tuple[str, ...]] = None  # label names of corpora that give names (XNLI)
    regression: bool = False

    def instruction(self, spoken: str, texts: Mapping[str, str]) -> tuple[str, str]:
        """(prefix, postfix) around the ``spoken`` field, the other fields from ``texts``."""
        if spoken not in self.fields:
            raise ValueError(f"task {self.name}: no field {spoken!r} to speak (fields: {list(self.fields)})")
        before, after = self.template.split("{" + spoken + "}")
        for field in self.fields:
            if field != spoken:
                before = before.replace("{" + field + "}", texts[field])
                after = after.replace("{" + field + "}", texts[field])
        return before, after

    def spoken_pair(self) -> tuple[str, str]:
        """The two fields of a two-sentence task in the order its template has them (the
        first becomes the first speech segment)."""
        if len(self.fields) != 2:
            raise ValueError(f"task {self.name} has {len(self.fields)} field(s): both spoken needs two")
        return tuple(sorted(self.fields, key=lambda f: self.template.index("{" + f + "}")))

    def instruction_pair(self) -> tuple[str, str, str]:
        """(prefix, middle, postfix) around the two spoken fields of :meth:`spoken_pair`:
        ``prefix + speech 1 + middle + speech 2 + postfix``, as Denisov & Vu (2024) prompt."""
        first, second = self.spoken_pair()
        before, rest = self.template.split("{" + first + "}")
        middle, after = rest.split("{" + second + "}")
        return before, middle, after

    def gold(self, label: Union[int, float, str]) -> str:
        """The ``text`` of an example: its label word, or (regression) its score."""
        if self.regression:
            value = float(label)
            if not 0.0 <= value <= 5.0:
                raise ValueError(f"task {self.name}: score {label!r} outside 0..5")
            return f"{value:g}"
        if isinstance(label, str) and self.labels is not None and label in self.labels:
            return self.answers[self.labels.index(label)]
        index = int(label)
        if not 0 <= index < len(self.answers):
            raise ValueError(
                f"task {self.name}: label {label!r} is not one of 0..{len(self.answers) - 1}"
                + (f" or {list(self.labels)}" if self.labels else "")
                + (" (GLUE test labels are hidden (-1): use the validation split)" if index == -1 else "")
            )
        return self.answers[index]

    def label_of(self, answer: str) -> Optional[Union[int, float]]:
        """The label an answer stands for (score for regression), or None if it is none."""
        if self.regression:
            try:
                value = float(answer.strip().rstrip("."))
            except ValueError:
                return None
            return value if 0.0 <= value <= 5.0 else None
        words = [normalize_answer(a) for a in self.answers]
        key = normalize_answer(answer)
        return words.index(key) if key in words else None


def _task(path: Path, name: str, conf: dict) -> NLUTask:
    where = f"{path}: task {name}"
    try:
        task = NLUTask(
            name=name,
            fields=tuple(conf["fields"]),
            template=conf["template"],
            answers=tuple(str(a) for a in conf["answers"]),
            metrics=tuple(conf["metrics"]),
            labels=tuple(conf["labels"]) if conf.get("labels") else None,
            regression=bool(conf.get("regression", False)),
        )
    except (KeyError, TypeError) as e:
        raise ValueError(f"{where}: needs fields, template, answers and metrics ({e})") from e
    unknown = [m for m in task.metrics if m not in METRICS]
    if unknown or not task.metrics:
        raise ValueError(f"{where}: unknown metrics {unknown} (known: {list(METRICS)})")
    for field in task.fields:
        if task.template.count("{" + field + "}") != 1:
            raise ValueError(f"{where}: the template must hold {{{field}}} exactly once")
    if len({normalize_answer(a) for a in task.answers}) != len(task.answers):
        raise ValueError(f"{where}: answers {list(task.answers)} are not distinct")
    if task.labels is not None and len(task.labels) != len(task.answers):
        raise ValueError(f"{where}: {len(task.labels)} labels for {len(task.answers)} answers")
    return task


@functools.lru_cache(maxsize=None)
def _load(path: Path) -> dict[str, NLUTask]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), dict):
        raise ValueError(f"{path}: expected a mapping 'tasks: {{name: {{...}}}}'")
    return {name: _task(path, name, conf) for name, conf in data["tasks"].items()}


def load_tasks(path: Optional[Path] = None) -> dict[str, NLUTask]:
    """All tasks of ``path`` (default: the packaged ``prompts/nlu.yaml``)."""
    return _load(Path(path) if path is not None else prompt_file("nlu.yaml"))


def get_task(name: str, path: Optional[Path] = None) -> NLUTask:
    tasks = load_tasks(path)
    if name not in tasks:
        raise KeyError(f"unknown NLU task {name!r}; known: {', '.join(tasks)}")
    return tasks[name]
