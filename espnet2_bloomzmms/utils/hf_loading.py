"""One place that loads Hugging Face checkpoints, so every component fails the same clear way.

A checkpoint is named by hub id (``facebook/mms-1b-all``) or by local directory. A path
that does not exist, or a hub id that cannot be fetched (no network, no cache, typo),
raises :class:`PretrainedLoadError` naming the component and the name, instead of the
long chain of hub errors transformers raises.
"""

import contextlib
import json
import logging
import re
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, TypeVar

import torch

T = TypeVar("T")

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
"""The dtypes a config may name for pretrained weights (speech encoder, LLM)."""


class PretrainedLoadError(OSError):
    """A pretrained checkpoint could not be found or loaded."""


def looks_like_path(name: str) -> bool:
    """True for names that can only be local paths (hub ids are ``owner/name``)."""
    return (
        name.startswith((".", "/", "~"))
        or name.count("/") > 1
        or Path(name).expanduser().exists()
    )


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _UnusedWeightsReport(logging.Filter):
    """Drops transformers' load report when all it lists is weights the caller means to
    leave unused (``prefixes``); any other missing or unexpected key is still reported."""

    def __init__(self, prefixes: Sequence[str]):
        super().__init__()
        self.prefixes = tuple(prefixes)
        self.dropped = False

    def filter(self, record: logging.LogRecord) -> bool:
        message = _ANSI.sub("", record.getMessage())  # transformers colours the report on a terminal
        if "LOAD REPORT" not in message:
            return True
        rows = [[cell.strip() for cell in line.split("|")] for line in message.splitlines() if "|" in line]
        keyed = [r for r in rows if r[0] and r[0] != "Key" and not set(r[0]) <= set("-+")]
        if keyed and all(len(r) > 1 and r[1] == "UNEXPECTED" and r[0].startswith(self.prefixes) for r in keyed):
            self.dropped = True
            return False
        return True


@contextlib.contextmanager
def _quiet_load_report(prefixes: Sequence[str], what: str, name: str) -> Iterator[None]:
    if not prefixes:
        yield
        return
    logger = logging.getLogger("transformers.modeling_utils")
    report = _UnusedWeightsReport(prefixes)
    logger.addFilter(report)
    try:
        yield
    finally:
        logger.removeFilter(report)
    if report.dropped:
        logging.getLogger(__name__).info(f"{what} {name}: its {', '.join(p + '*' for p in prefixes)} weights are not used")


def load_pretrained(load: Callable[..., T], name: str, what: str, unused: Sequence[str] = (), **kwargs) -> T:
    """Call ``load(name, **kwargs)`` (a ``from_pretrained``) and explain failures.

    ``what`` says which component asked ("speech encoder", "LLM", "tokenizer").
    ``unused``: prefixes of checkpoint weights the component leaves out on purpose (MMS's
    CTC head ``lm_head.`` for the speech encoder); transformers' load report is then not
    printed when they are all it has to report.
    """
    if looks_like_path(name) and not Path(name).expanduser().exists():
        raise PretrainedLoadError(f"{what} checkpoint not found: no directory {name!r}")
    try:
        with _quiet_load_report(unused, what, name):
            return load(str(Path(name).expanduser()) if looks_like_path(name) else name, **kwargs)
    except (OSError, ValueError) as e:
        raise PretrainedLoadError(
            f"could not load the {what} {name!r}: it is not a local directory and could "
            f"not be fetched from the Hugging Face hub (offline, not cached, or a wrong "
            f"name?). Cause: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from e


def build_from_config(auto_class, name: str, what: str, config_overrides: Optional[dict] = None, **kwargs):
    """``auto_class.from_config`` of the checkpoint's ``config.json``: the architecture
    with random weights, no weight files needed (full-size models on the meta device,
    memory benchmarks). ``auto_class`` is e.g. ``AutoModel``; kwargs go to ``from_config``."""
    from transformers import AutoConfig

    config = load_pretrained(AutoConfig.from_pretrained, name, f"{what} config", **(config_overrides or {}))
    return auto_class.from_config(config, **kwargs)


def load_tokenizer(model_name_or_path: str):
    """The LLM's own tokenizer, so targets and token ids round-trip exactly."""
    from transformers import AutoTokenizer

    return load_pretrained(AutoTokenizer.from_pretrained, model_name_or_path, "tokenizer")


#: a checkpoint's weight files, in the order transformers prefers them
_WEIGHT_FILES = ("model.safetensors.index.json", "model.safetensors", "pytorch_model.bin.index.json",
                 "pytorch_model.bin")


def read_input_embeddings(model_name_or_path: str) -> torch.Tensor:
    """A causal LM's input-embedding matrix, read alone from its weight files (one shard,
    memory-mapped) instead of loading the whole model (BLOOMZ-7b1: 2 GB of 14)."""
    from safetensors import safe_open
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.utils import cached_file

    config = load_pretrained(AutoConfig.from_pretrained, model_name_or_path, "LLM config")
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    weight = model.get_input_embeddings().weight
    name = next(n for n, p in model.named_parameters(remove_duplicate=False) if p is weight)
    prefix = f"{model.base_model_prefix}."
    names = [name, name[len(prefix):]] if name.startswith(prefix) else [name]

    def fetch(filename: str):
        return load_pretrained(lambda n: cached_file(n, filename, _raise_exceptions_for_missing_entries=False),
                               model_name_or_path, "LLM weights")

    for filename in _WEIGHT_FILES:
        path = fetch(filename)
        if path is None:
            continue
        if filename.endswith(".index.json"):
            weight_map = json.loads(Path(path).read_text(encoding="utf-8"))["weight_map"]
            key = next((n for n in names if n in weight_map), None)
            if key is None:
                break
            path, filename = fetch(weight_map[key]), weight_map[key]
        if filename.endswith(".safetensors"):
            with safe_open(path, framework="pt") as f:
                key = next((n for n in names if n in f.keys()), None)
                if key is not None:
                    return f.get_tensor(key)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            key = next((n for n in names if n in state), None)
            if key is not None:
                return state[key]
        break
    raise PretrainedLoadError(f"{model_name_or_path}: no input-embedding tensor ({' or '.join(names)}) in its weight files")
