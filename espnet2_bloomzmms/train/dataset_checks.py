"""Checks on a training/validation dataset before the first batch, with messages that
name the file and the utterances, instead of a KeyError deep inside a data loader."""

from typing import Iterable, Mapping, Optional

import numpy as np


def _loaders(dataset) -> Mapping:
    return getattr(dataset, "loader_dict", {})


def check_utterances_present(dataset, keys: Optional[Iterable[str]] = None) -> None:
    """Every data file must have a line for each utterance the batches will use
    (``keys``; by default those of the first file, wav.scp)."""
    loaders = _loaders(dataset)
    if not loaders:
        return
    ref_name = next(iter(loaders))
    ref_path = dataset.debug_info[ref_name][0]
    wanted = set(keys) if keys is not None else set(loaders[ref_name].keys())
    for name, loader in loaders.items():
        missing = sorted(wanted - set(loader.keys()))
        if missing:
            raise ValueError(
                f"{dataset.debug_info[name][0]} ({name}): {len(missing)} of {len(wanted)} utterances "
                f"of {ref_path} have no line ({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''})"
            )


def check_sample_rate(dataset, name: str, expected: int) -> None:
    """The audio must be at ``expected`` Hz. ESPnet's reader then refuses any later
    utterance whose rate differs from the first, so checking one suffices."""
    loaders = _loaders(dataset)
    if name not in loaders or not hasattr(loaders[name], "loader"):
        return
    reader = loaders[name].loader
    uid = next(iter(reader.keys()), None)
    if uid is None:
        raise ValueError(f"{dataset.debug_info[name][0]}: no utterances")
    value = reader[uid]
    rate = value[0] if isinstance(value[0], (int, np.integer)) else value[1]
    if rate != expected:
        raise ValueError(
            f"{dataset.debug_info[name][0]}: utterance {uid} is sampled at {rate} Hz, "
            f"the model expects {expected} Hz: resample the data (e.g. sox in.wav -r {expected} out.wav)"
        )
