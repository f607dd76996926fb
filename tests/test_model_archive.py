"""Packing and unpacking model archives under concurrency and bad files."""

import multiprocessing as mp
import os
import shutil
import zipfile
from pathlib import Path

import pytest
import torch
import yaml

from espnet2_bloomzmms.model_archive import ArchiveError, pack_model, unpack_model


@pytest.fixture
def exp_dir(tmp_path):
    """A training exp dir with a local base model, as the tiny recipe's (a few MB, so that
    extracting it takes long enough for concurrent loads to overlap)."""
    base = tmp_path / "base_llm"
    base.mkdir()
    torch.manual_seed(0)
    for i in range(4):
        torch.save({"w": torch.randn(256, 256)}, base / f"part{i}.pth")
    exp = tmp_path / "exp"
    exp.mkdir()
    config = {"decoder_conf": {"model_name_or_path": str(base)}, "best_model_criterion": [["valid", "acc", "max"]]}
    (exp / "config.yaml").write_text(yaml.safe_dump(config))
    torch.save({"encoder.w": torch.randn(512, 512)}, exp / "valid.acc.best.pth")
    return exp


def _load(archive, barrier, results):
    """What ``from_pretrained`` does with a zip: unpack, read the config, load the weights
    and the base model the config points at."""
    try:
        barrier.wait()
        config_file, model_file = unpack_model(archive)
        config = yaml.safe_load(config_file.read_text())
        torch.load(model_file, weights_only=True)
        base = Path(config["decoder_conf"]["model_name_or_path"])
        for i in range(4):
            torch.load(base / f"part{i}.pth", weights_only=True)
        results.put("ok")
    except Exception as e:  # noqa: BLE001 - the parent reports every failure
        results.put(f"{type(e).__name__}: {e}")


def test_concurrent_first_loads_of_one_archive_all_succeed(exp_dir, tmp_path):
    archive = pack_model(exp_dir, tmp_path / "m.zip")
    ctx = mp.get_context("fork")
    outcomes = []
    for _ in range(3):  # each round: a fresh archive (new mtime) that nobody has unpacked yet
        shutil.rmtree(tmp_path / "m.unpacked", ignore_errors=True)
        os.utime(archive)
        barrier, results = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_load, args=(archive, barrier, results)) for _ in range(4)]
        for p in procs:
            p.start()
        outcomes += [results.get(timeout=120) for _ in procs]
        for p in procs:
            p.join()
    assert outcomes == ["ok"] * 12, [o for o in outcomes if o != "ok"]
    assert sorted(p.name for p in tmp_path.iterdir() if ".tmp" in p.name) == []


def test_a_changed_archive_is_unpacked_again(exp_dir, tmp_path):
    archive = pack_model(exp_dir, tmp_path / "m.zip")
    config, model = unpack_model(archive)
    first = torch.load(model, weights_only=True)["encoder.w"]
    torch.save({"encoder.w": torch.zeros(2, 2)}, exp_dir / "valid.acc.best.pth")
    pack_model(exp_dir, archive)
    assert torch.equal(torch.load(unpack_model(archive)[1], weights_only=True)["encoder.w"], torch.zeros(2, 2))
    assert not torch.equal(first[:2, :2], torch.zeros(2, 2))


def test_files_that_are_not_archives_are_named(exp_dir, tmp_path):
    text = tmp_path / "notes.zip"
    text.write_text("this is a text file\n")
    with pytest.raises(ArchiveError, match=r"notes.zip: not a zip archive"):
        unpack_model(text)
    archive = pack_model(exp_dir, tmp_path / "m.zip")
    cut = tmp_path / "cut.zip"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(ArchiveError, match=r"cut.zip: not a zip archive"):
        unpack_model(cut)
    # damaged member data (central directory intact): named as a corrupt archive
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("model.pth")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 100
    data[start : start + 1000] = bytes(1000)
    (tmp_path / "damaged.zip").write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=r"damaged.zip: corrupt archive"):
        unpack_model(tmp_path / "damaged.zip")
    assert not (tmp_path / "damaged.unpacked").exists()


def test_pack_without_config_or_model_leaves_nothing(exp_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing.pth: no such model file"):
        pack_model(exp_dir, tmp_path / "out" / "m.zip", model_file=exp_dir / "missing.pth")
    (exp_dir / "config.yaml").unlink()
    with pytest.raises(FileNotFoundError, match=r"config.yaml: no such file"):
        pack_model(exp_dir, tmp_path / "out" / "m.zip")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
