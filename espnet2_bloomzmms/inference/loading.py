"""Loading a trained model for decoding: from an experiment dir, a packed ``.zip`` or the
Hugging Face hub; weights strictly and as tensors only; the LLM cast to another dtype."""

import contextlib
import tempfile
from pathlib import Path
from typing import Iterator, Optional, Tuple, Union

import torch

from espnet2_bloomzmms.hub import download_model
from espnet2_bloomzmms.model_archive import find_model_file, packed_model_files, unpack_model
from espnet2_bloomzmms.reference.model_import import imported_pack
from espnet2_bloomzmms.reference.pack import is_reference_pack
from espnet2_bloomzmms.utils.hf_loading import looks_like_path
from espnet2_bloomzmms.utils.tensor_files import read_tensors


@contextlib.contextmanager
def model_files(path: Union[str, Path], revision: Optional[str] = None, cache_dir: Union[str, Path, None] = None,
                token: Union[str, bool, None] = None, endpoint: Optional[str] = None,
                import_options: Optional[dict] = None) -> Iterator[Tuple[Path, Path]]:
    """(config file, model file) of an experiment directory (the model file chosen by
    :func:`find_model_file`), a packed ``.zip`` (see :func:`unpack_model`), or a model on
    the Hugging Face hub (``owner/name``; ``revision``, ``cache_dir``, ``token`` and
    ``endpoint`` apply to that download only), valid while the block runs. One of the
    authors' ESPnet packs (a directory or hub repo) is converted once and cached
    (:func:`~espnet2_bloomzmms.reference.model_import.imported_pack`, with ``import_options``)."""
    local = Path(path)
    if local.is_file() and local.suffix == ".zip":
        yield unpack_model(local)
    elif local.is_dir() and is_reference_pack(local):
        yield imported_pack(local, import_options)
    elif local.is_dir():
        config_file = local / "config.yaml"
        if not config_file.is_file():
            raise FileNotFoundError(f"{local}: no config.yaml (not an experiment directory)")
        yield config_file, find_model_file(local)
    elif not looks_like_path(str(path)) and str(path).count("/") == 1:
        root = download_model(str(path), revision=revision, cache_dir=cache_dir, token=token,
                              endpoint=endpoint, context="neither a local experiment directory nor a .zip, ")
        if is_reference_pack(root):
            yield imported_pack(root, import_options)
            return
        with tempfile.TemporaryDirectory() as tmp:  # the config is read while the model is built
            yield packed_model_files(root, Path(tmp) / "config.yaml")
    else:
        raise FileNotFoundError(f"{path}: neither an experiment directory nor a packed .zip model "
                                "(nor a hub name owner/name)")


def load_state_dict(model: torch.nn.Module, model_file: Union[str, Path], device: str) -> None:
    """Load trained parameters strictly: a checkpoint that does not fit the config fails.

    (ESPnet's ``build_model_from_file`` loads with ``strict=False``, which would silently
    decode with randomly initialised layers after a config/checkpoint mix-up.) Frozen
    pretrained weights are not in checkpoints; their modules accept their absence.
    """
    state = read_tensors(model_file, device)
    if isinstance(state, dict) and "module" in state and isinstance(state["module"], dict):
        state = state["module"]  # DeepSpeed
    if isinstance(state, dict) and "model" in state and "optimizers" in state:
        raise ValueError(
            f"{model_file} is a training checkpoint (checkpoint.pth), not a model file: "
            "use valid.*.best.pth, valid.*.ave*.pth or <N>epoch.pth"
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise RuntimeError(f"{model_file} does not fit the model its config builds: {e}") from e


def cast_llm(model: torch.nn.Module, dtype: Union[str, torch.dtype]) -> None:
    """Cast the model's LLM (with its LoRA adapters) to ``dtype``."""
    if isinstance(dtype, str):
        if dtype not in ("float32", "bfloat16", "float16"):
            raise ValueError(f"dtype must be float32, bfloat16 or float16, not {dtype!r}")
        dtype = getattr(torch, dtype)
    llm = model.decoder.llm
    if getattr(llm, "is_loaded_in_8bit", False) or getattr(llm, "is_loaded_in_4bit", False) or getattr(
        getattr(llm, "config", None), "quantization_config", None
    ):
        raise ValueError("the LLM is quantized (decoder_conf.quantization): its dtype cannot be changed")
    llm.to(dtype=dtype)
