"""One-file model archives: pack a trained model, unpack it anywhere.

An archive (zip) holds ``meta.yaml`` (format version, package versions, base models),
``config.yaml``, ``model.pth`` (only the trained weights: frozen base weights stay out,
see :mod:`espnet2_bloomzmms.utils.frozen_weights`), ``RESULTS.md`` when given, and the
base models *only when they are local directories* (the tiny recipe's); hub models
are referenced by name and fetched where the archive is used.
"""

import shutil
import zipfile
from pathlib import Path
from typing import Optional, Tuple

import yaml

FORMAT_VERSION = 1
#: config entries that name base models
BASE_MODEL_KEYS = (("frontend_conf", "model_name_or_path"), ("decoder_conf", "model_name_or_path"))
#: checkpoint names preferred in an experiment dir, best first (ESPnet's trainer writes them)
PREFERRED = ("valid.acc.ave.pth", "valid.acc.best.pth", "valid.cer_ctc.ave.pth", "valid.cer_ctc.best.pth",
             "valid.loss.ave.pth", "valid.loss.best.pth")


class ArchiveError(ValueError):
    """The archive is not one this version can read."""


def find_model_file(model_dir) -> Path:
    """The checkpoint to use from an ESPnet experiment dir: the first of ``PREFERRED``
    that exists, else the latest ``<N>epoch.pth``."""
    model_dir = Path(model_dir)
    for name in PREFERRED:
        if (model_dir / name).exists():
            return model_dir / name
    epochs = sorted(model_dir.glob("*epoch.pth"), key=lambda p: int(p.name[: -len("epoch.pth")]))
    if not epochs:
        raise FileNotFoundError(f"{model_dir}: no checkpoint ({', '.join(PREFERRED[:2])}, <N>epoch.pth)")
    return epochs[-1]


def pack_model(model_dir, output, results: Optional[str] = None, model_file=None) -> Path:
    """Write ``output`` (zip) from an experiment dir (config.yaml + checkpoint)."""
    import torch

    import espnet2_bloomzmms

    model_dir, output = Path(model_dir), Path(output)
    config = yaml.safe_load((model_dir / "config.yaml").read_text(encoding="utf-8"))
    model_file = Path(model_file) if model_file else find_model_file(model_dir)
    bases = {}
    for section, key in BASE_MODEL_KEYS:
        name = config.get(section, {}).get(key)
        if name and Path(name).is_dir():
            bases[f"base_models/{section.split('_')[0]}"] = Path(name)
            config[section][key] = f"base_models/{section.split('_')[0]}"
    config["output_dir"] = None
    meta = {
        "format": FORMAT_VERSION,
        "espnet2_bloomzmms": espnet2_bloomzmms.__version__,
        "torch": torch.__version__,
        "checkpoint": model_file.name,
        "base_models": {f"{s}.{k}": config.get(s, {}).get(k) for s, k in BASE_MODEL_KEYS},
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.yaml", yaml.safe_dump(meta, sort_keys=False))
        zf.writestr("config.yaml", yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
        zf.write(model_file, "model.pth")
        if results and Path(results).exists():
            zf.write(results, "RESULTS.md")
        for arcdir, src in bases.items():
            for f in sorted(src.rglob("*")):
                if f.is_file():
                    zf.write(f, f"{arcdir}/{f.relative_to(src)}")
    tmp.replace(output)
    return output


def unpack_model(archive, dest=None) -> Tuple[Path, Path]:
    """Extract ``archive`` (to ``dest``, default: next to it, named after it) and return
    (config file, model file); the config's local base-model paths point into ``dest``."""
    archive = Path(archive)
    dest = Path(dest) if dest else archive.with_suffix("")
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        if "meta.yaml" not in names:
            raise ArchiveError(f"{archive} is not a BLOOMZMMS model archive (no meta.yaml)")
        meta = yaml.safe_load(zf.read("meta.yaml"))
        if meta.get("format") != FORMAT_VERSION:
            raise ArchiveError(
                f"{archive} has archive format {meta.get('format')} (espnet2_bloomzmms "
                f"{meta.get('espnet2_bloomzmms')}); this version reads format {FORMAT_VERSION}"
            )
        if not (dest / "config.yaml").exists():
            tmp = dest.with_name(dest.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            zf.extractall(tmp)
            config = yaml.safe_load((tmp / "config.yaml").read_text(encoding="utf-8"))
            for section, key in BASE_MODEL_KEYS:
                name = config.get(section, {}).get(key)
                if name and (tmp / name).is_dir():
                    config[section][key] = str((dest / name).resolve())
            (tmp / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
            shutil.rmtree(dest, ignore_errors=True)
            tmp.replace(dest)
    return dest / "config.yaml", dest / "model.pth"
