"""One place that loads Hugging Face checkpoints, so every component fails the same clear way.

A checkpoint is named by hub id (``facebook/mms-1b-all``) or by local directory. A path
that does not exist, or a hub id that cannot be fetched (no network, no cache, typo),
raises :class:`PretrainedLoadError` naming the component and the name, instead of the
long chain of hub errors transformers raises.
"""

from pathlib import Path
from typing import Callable, Optional, TypeVar

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


def load_pretrained(load: Callable[..., T], name: str, what: str, **kwargs) -> T:
    """Call ``load(name, **kwargs)`` (a ``from_pretrained``) and explain failures.

    ``what`` says which component asked ("speech encoder", "LLM", "tokenizer").
    """
    if looks_like_path(name) and not Path(name).expanduser().exists():
        raise PretrainedLoadError(f"{what} checkpoint not found: no directory {name!r}")
    try:
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
