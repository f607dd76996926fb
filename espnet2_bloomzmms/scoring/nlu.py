"""Spoken NLU scores: each task's GLUE metrics (accuracy, F1, MCC, Pearson, Spearman).

References and hypotheses are answer words (``prompts/nlu.yaml``), matched after
case-folding and stripping surrounding punctuation; for STS-B they are scores 0..5.
As GLUE defines them: accuracy; F1 of the positive class (label 1: paraphrase /
duplicate) for MRPC and QQP; Matthews correlation for CoLA; Pearson and Spearman
correlation for STS-B (scikit-learn and scipy).

An answer that is none of the label words (possible only when decoding was not
constrained) counts as wrong: it gets its own "invalid" class, so it lowers accuracy,
is never a positive for F1, and enters MCC as a class of its own. For STS-B an answer
that is no number in 0..5 cannot enter a correlation: correlations are over the valid
answers, and ``invalid`` says how many were left out.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional, Union

import numpy as np

from espnet2_bloomzmms.data.nlu.tasks import NLUTask, get_task
from espnet2_bloomzmms.scoring.asr import _few, _table

__all__ = ["markdown_table", "score"]

INVALID = -1


def _metric(name: str, gold: np.ndarray, pred: np.ndarray) -> Optional[float]:
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

    if len(gold) == 0:
        return None
    if name == "accuracy":
        return float(accuracy_score(gold, pred))
    if name == "f1":
        return float(f1_score(gold == 1, pred == 1, zero_division=0.0))
    if name == "mcc":
        return float(matthews_corrcoef(gold, pred))
    if len(gold) < 2 or np.ptp(gold) == 0 or np.ptp(pred) == 0:
        return None  # a correlation with a constant is undefined
    value = (pearsonr if name == "pearson" else spearmanr)(gold, pred)[0]
    return None if math.isnan(value) else float(value)


def _group(task: NLUTask, gold: list, pred: list) -> dict:
    invalid = sum(p is None for p in pred)
    if task.regression:
        pairs = [(g, p) for g, p in zip(gold, pred) if p is not None]
        g = np.array([x for x, _ in pairs], dtype=float)
        p = np.array([y for _, y in pairs], dtype=float)
    else:
        g = np.array(gold, dtype=int)
        p = np.array([INVALID if x is None else x for x in pred], dtype=int)
    return {
        "utterances": len(gold),
        "invalid": invalid,
        "metrics": {m: _metric(m, g, p) for m in task.metrics},
    }


def score(
    task: Union[NLUTask, str],
    refs: Mapping[str, str],
    hyps: Mapping[str, str],
    langs: Optional[Mapping[str, str]] = None,
) -> dict:
    """The task's metrics of ``hyps`` against ``refs`` (answer words), overall and per
    language (with ``langs``).

    Returns ``{"task", "utterances", "invalid", "metrics": {name: value or None},
    "missing_hypotheses", "missing_hypothesis_ids", "languages": {lang: {"utterances",
    "invalid", "metrics"}}}``; metric values are fractions (correlations in -1..1), None
    where undefined. A missing hypothesis counts as invalid; a reference that is no
    label word of the task, or a hypothesis for an unknown utterance, is an error.
    """
    task = get_task(task) if isinstance(task, str) else task
    if not refs:
        raise ValueError("no references to score")
    unknown = [u for u in hyps if u not in refs]
    if unknown:
        raise ValueError(f"{len(unknown)} hypotheses are for utterances that have no reference ({_few(unknown)})")
    gold = {u: task.label_of(r) for u, r in refs.items()}
    bad = [u for u, g in gold.items() if g is None]
    if bad:
        raise ValueError(
            f"{len(bad)} references are not answers of task {task.name} ({list(task.answers)}): "
            + ", ".join(f"{u}={refs[u]!r}" for u in bad[:5])
        )
    if langs is not None:
        no_lang = [u for u in refs if u not in langs]
        if no_lang:
            raise ValueError(f"{len(no_lang)} of {len(refs)} utterances have no language ({_few(no_lang)})")
    pred = {u: task.label_of(hyps[u]) if u in hyps else None for u in refs}
    missing = [u for u in refs if u not in hyps]
    result = {"task": task.name, **_group(task, list(gold.values()), list(pred.values()))}
    result["missing_hypotheses"] = len(missing)
    result["missing_hypothesis_ids"] = missing
    groups: dict[str, list[str]] = {}
    for u in refs if langs is not None else ():
        groups.setdefault(langs[u], []).append(u)
    result["languages"] = {
        lang: _group(task, [gold[u] for u in ids], [pred[u] for u in ids]) for lang, ids in sorted(groups.items())
    }
    return result


def _pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def markdown_table(results: Mapping[str, Mapping]) -> str:
    """One table of ``{system name: score(...) result}``: a row per system, the task's
    metrics in % (correlations x 100, as GLUE reports them), then per-language rows
    (where scored per language) of the first metric."""
    if not results:
        raise ValueError("markdown_table needs at least one result")
    metrics = list(dict.fromkeys(m for r in results.values() for m in r["metrics"]))
    rows = [
        [name, res["task"], *[_pct(res["metrics"].get(m)) for m in metrics], str(res["utterances"]), str(res["invalid"])]
        for name, res in results.items()
    ]
    out = ["### NLU (%)", "", *_table(["system", "task", *metrics, "Snt", "invalid"], rows), ""]
    langs = sorted({lang for r in results.values() for lang in r.get("languages", {})})
    if langs:
        first = metrics[0]
        rows = [
            [name, *[_pct(res["languages"][lang]["metrics"].get(first)) if lang in res["languages"] else "–"
                     for lang in langs], _pct(res["metrics"].get(first))]
            for name, res in results.items()
        ]
        out += [f"### {first} per language (%)", "", *_table(["system", *langs, "all"], rows), ""]
    return "\n".join(out)
