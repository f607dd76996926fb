"""One-file model archives: pack a trained model, unpack it anywhere.

An archive (zip) holds ``meta.yaml`` (format version, package versions, base models),
``config.yaml``, ``model.pth`` (only the trained weights: frozen base weights stay out,
see :mod:`espnet2_bloomzmms.utils.frozen_weights`), ``RESULTS.md`` when given, and the
base models *only when they are local directories* (the tiny recipe's); hub models
are referenced by name and fetched where the archive is used.
"""

import re
import zipfile
import zlib
from pathlib import Path
from typing import Optional, Tuple, Union

import yaml

from espnet2_bloomzmms.utils.atomic_files import atomic_path, build_dir_once

FORMAT_VERSION = 1
#: config entries that name base models
BASE_MODEL_KEYS = (("frontend_conf", "model_name_or_path"), ("decoder_conf", "model_name_or_path"))


class ArchiveError(ValueError):
    """The archive is not one this version can read."""


def _first_criterion(config_file: Path) -> Optional[str]:
    try:
        config = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        return str(config["best_model_criterion"][0][1])
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
        return None


def find_model_file(exp_dir: Union[str, Path]) -> Path:
    """The parameter file of an experiment directory that inference should use.

    The rule, first match wins (ESPnet's trainer writes all of these):

    1. an averaged model ``valid.<criterion>.ave*.pth`` (``valid.acc.ave.pth``,
       ``valid.acc.ave_10best.pth``);
    2. a best model ``*best.pth`` (``valid.loss.best.pth``);
    3. the latest epoch, ``<N>epoch.pth`` with the largest N.

    Among several matches of one step, files of the first ``best_model_criterion`` in
    the directory's ``config.yaml`` come first, then by name (so ``valid.acc.ave.pth``,
    the link ESPnet points at the latest average, beats ``valid.acc.ave_10best.pth``).
    ``checkpoint.pth`` (optimizer state for resuming training) is never used.
    """
    exp_dir = Path(exp_dir)
    criterion = _first_criterion(exp_dir / "config.yaml")

    def ordered(paths):
        paths = [p for p in paths if p.is_file()]
        preferred = f"valid.{criterion}." if criterion else None
        return sorted(paths, key=lambda p: (not (preferred and p.name.startswith(preferred)), p.name))

    for pattern in ("valid.*.ave*.pth", "*best.pth"):
        found = ordered(exp_dir.glob(pattern))
        if found:
            return found[0]
    epochs = [p for p in exp_dir.glob("*epoch.pth") if re.fullmatch(r"\d+epoch\.pth", p.name)]
    if epochs:
        return max(epochs, key=lambda p: int(p.name[: -len("epoch.pth")]))
    have = sorted(p.name for p in exp_dir.glob("*.pth"))
    raise FileNotFoundError(
        f"{exp_dir}: no model file to decode with (looked for valid.*.ave*.pth, *best.pth, "
        f"<N>epoch.pth; found {have or 'no .pth files'})"
    )


def pack_model(model_dir, output, results: Optional[str] = None, model_file=None) -> Path:
    """Write ``output`` (zip) from an experiment dir (config.yaml + checkpoint)."""
    import torch

    import espnet2_bloomzmms

    model_dir, output = Path(model_dir), Path(output)
    if not (model_dir / "config.yaml").is_file():
        raise FileNotFoundError(f"{model_dir / 'config.yaml'}: no such file (is {model_dir} a training exp dir?)")
    config = yaml.safe_load((model_dir / "config.yaml").read_text(encoding="utf-8"))
    model_file = Path(model_file) if model_file else find_model_file(model_dir)
    if not model_file.is_file():
        raise FileNotFoundError(f"{model_file}: no such model file")
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
        "torch": str(torch.__version__),
        "checkpoint": model_file.name,
        "base_models": {f"{s}.{k}": config.get(s, {}).get(k) for s, k in BASE_MODEL_KEYS},
    }
    with atomic_path(output) as tmp:
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
    return output


def read_meta(text: Optional[bytes], source) -> dict:
    """The archive's ``meta.yaml`` contents, or an :class:`ArchiveError` saying why this
    version cannot read ``source`` (no meta.yaml, or another archive format)."""
    if text is None:
        raise ArchiveError(f"{source} is not a BLOOMZMMS model archive (no meta.yaml)")
    meta = yaml.safe_load(text)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        meta = meta if isinstance(meta, dict) else {}
        raise ArchiveError(
            f"{source} has archive format {meta.get('format')} (espnet2_bloomzmms "
            f"{meta.get('espnet2_bloomzmms')}); this version reads format {FORMAT_VERSION}"
        )
    return meta


def extract_archive(archive, dest) -> dict:
    """Check ``archive``'s format, extract it as packed into ``dest`` (base-model paths
    in its config stay relative) and return its meta. No member may leave ``dest``."""
    archive, dest = Path(archive), Path(dest)
    if not zipfile.is_zipfile(archive):
        raise ArchiveError(f"{archive}: not a zip archive ({archive.stat().st_size} bytes): truncated "
                           "download, or another kind of file named .zip?")
    try:
        zf = zipfile.ZipFile(archive)
        names = [n for n in zf.namelist() if not n.endswith("/")]
        meta_text = zf.read("meta.yaml") if "meta.yaml" in names else None
    except (zipfile.BadZipFile, EOFError, zlib.error) as e:
        raise ArchiveError(f"{archive}: corrupt archive ({type(e).__name__}: {e})") from e
    with zf:
        meta = read_meta(meta_text, archive)
        root = dest.resolve()
        for name in names:
            if root not in (dest / name).resolve().parents:
                raise ArchiveError(f"{archive}: member {name!r} would be written outside {dest}")
        try:
            zf.extractall(dest, members=names)
        except (zipfile.BadZipFile, EOFError, zlib.error) as e:
            raise ArchiveError(f"{archive}: corrupt archive ({type(e).__name__}: {e})") from e
    return meta


def localize_config(config: dict, root, final_root=None) -> dict:
    """Point the config's relative base-model paths (``base_models/decoder``) that exist
    under ``root`` at ``final_root`` (default ``root``), as absolute paths."""
    root = Path(root)
    final_root = Path(final_root) if final_root is not None else root
    for section, key in BASE_MODEL_KEYS:
        name = config.get(section, {}).get(key)
        if name and not Path(name).is_absolute() and (root / name).is_dir():
            config[section][key] = str((final_root / name).resolve())
    return config


def packed_model_files(root, config_out) -> Tuple[Path, Path]:
    """(config file, model file) of a packed model already extracted at ``root`` (e.g. a
    downloaded hub repo): its format is checked and the config, with base-model paths
    pointed into ``root``, is written to ``config_out`` (``root`` stays untouched)."""
    root, config_out = Path(root), Path(config_out)
    meta_file = root / "meta.yaml"
    read_meta(meta_file.read_bytes() if meta_file.is_file() else None, root)
    for name in ("config.yaml", "model.pth"):
        if not (root / name).is_file():
            raise ArchiveError(f"{root}: packed model without {name}")
    config = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
    config_out.write_text(yaml.safe_dump(localize_config(config, root), sort_keys=False, allow_unicode=True),
                          encoding="utf-8")
    return config_out, root / "model.pth"


def unpack_model(archive, dest=None) -> Tuple[Path, Path]:
    """Extract ``archive`` and return (config file, model file).

    It is extracted once into ``dest`` (default: ``<archive without .zip>.unpacked``
    next to it) and reused while the archive is unchanged (same path, size and mtime,
    recorded in a marker written last). Safe under concurrency, as when decoding jobs
    load one archive at once: extraction holds an exclusive lock (``<dest>.lock``), the
    others wait and then reuse the result; an interrupted extraction is never reused (it
    goes to a temporary dir renamed into place). Base-model paths point into ``dest``.
    """
    archive = Path(archive)
    if not archive.is_file():
        raise FileNotFoundError(f"no packed model {archive}")
    dest = Path(dest) if dest else archive.with_name(archive.stem + ".unpacked")
    stat = archive.stat()
    stamp = f"{archive.resolve()} {stat.st_size} {stat.st_mtime_ns}\n"
    marker = dest / ".unpacked_from"
    files = dest / "config.yaml", dest / "model.pth"

    def current() -> bool:
        try:
            return marker.read_text(encoding="utf-8") == stamp
        except OSError:
            return False

    def extract(tmp: Path) -> None:
        extract_archive(archive, tmp)
        config = yaml.safe_load((tmp / "config.yaml").read_text(encoding="utf-8"))
        localize_config(config, tmp, dest)
        (tmp / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
                                         encoding="utf-8")
        (tmp / ".unpacked_from").write_text(stamp, encoding="utf-8")

    build_dir_once(dest, extract, current)
    return files
