"""An ESPnet v.202304 model pack as the authors' hub repos hold it.

    meta.yaml                     files: {asr_model_file: exp/<dir>/<model>.pth}
                                  yaml_files: {asr_train_config: exp/<dir>/config.yaml}
    exp/<dir>/config.yaml         the training namespace (token_list inline)
    exp/<dir>/<model>.pth         the full state dict (frozen MMS included)
    exp/<dir>/RESULTS.md, images/

(``akreal/bloomzmms-ctc``: ``10epoch.pth``; ``akreal/bloomzmms-ce-{t,mi,tmi}``:
``valid.acc.ave_3best.pth``.)
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Union

import torch
import yaml

from espnet2_bloomzmms.utils.tensor_files import read_tensors


class ReferencePackError(ValueError):
    """The directory is not a pack of the authors' kind, or it differs from what we know."""


@dataclass
class ReferencePack:
    root: Path
    config_file: Path
    model_file: Path
    espnet_version: Optional[str]

    @property
    def results_file(self) -> Optional[Path]:
        for path in (self.config_file.parent / "RESULTS.md", self.root / "RESULTS.md"):
            if path.is_file():
                return path
        return None

    def config(self) -> dict:
        try:
            config = yaml.safe_load(self.config_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            raise ReferencePackError(f"{self.config_file}: not a readable YAML config ({e})") from e
        if not isinstance(config, dict):
            raise ReferencePackError(f"{self.config_file}: not a training config (a mapping)")
        return config

    def state_dict(self) -> Dict[str, torch.Tensor]:
        """The pack's tensors, memory-mapped; a file that holds more than tensors (and
        strings) is refused without running it."""
        state = read_tensors(self.model_file, mmap=True)
        if not isinstance(state, dict):
            raise ReferencePackError(f"{self.model_file}: holds a {type(state).__name__}, not a state dict")
        return state


def _meta(root: Path) -> Optional[dict]:
    path = root / "meta.yaml"
    if not path.is_file():
        return None
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError):
        return None
    return meta if isinstance(meta, dict) else None


def is_reference_pack(root: Union[str, Path]) -> bool:
    """True for a directory whose ``meta.yaml`` is ESPnet's pack meta (an ASR model file and
    training config), as the authors' hub repos have; ours say ``format:`` instead."""
    meta = _meta(Path(root))
    return bool(meta) and "format" not in meta and "asr_model_file" in (meta.get("files") or {})


def read_reference_pack(root: Union[str, Path]) -> ReferencePack:
    """The pack at ``root`` (an unpacked hub repo as downloaded), its files checked."""
    root = Path(root)
    if not root.is_dir():
        raise ReferencePackError(f"{root}: no such directory (give the downloaded hub repo)")
    meta = _meta(root)
    if meta is None:
        raise ReferencePackError(f"{root}: no readable meta.yaml: not an ESPnet model pack")
    files, yaml_files = meta.get("files") or {}, meta.get("yaml_files") or {}
    if "asr_model_file" not in files or "asr_train_config" not in yaml_files:
        raise ReferencePackError(f"{root / 'meta.yaml'}: no files.asr_model_file / yaml_files.asr_train_config: "
                                 "not an ESPnet ASR model pack")
    config_file, model_file = root / yaml_files["asr_train_config"], root / files["asr_model_file"]
    for what, path in (("training config", config_file), ("model file", model_file)):
        if not path.is_file():
            raise ReferencePackError(f"{root / 'meta.yaml'} names the {what} {path.relative_to(root)}, "
                                     "which is not there (incomplete download?)")
    version = meta.get("espnet")
    return ReferencePack(root, config_file, model_file, None if version is None else str(version))
