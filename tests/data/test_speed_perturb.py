"""Speed perturbation of a data dir: Kaldi naming, lengths, side files, resumability."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from espnet2_bloomzmms.bin import speed_perturb as speed_perturb_cli
from espnet2_bloomzmms.data.datadir import (
    DataDirError,
    read_data_dir,
    read_kv,
    validate_data_dir,
    write_data_dir,
)
from espnet2_bloomzmms.data.speed_perturb import (
    change_speed,
    factor_prefix,
    perturb_data_dir,
    speed_ratio,
)

UTTS = [  # (uttid, speaker, lang, text)
    ("spkA-en-001", "spkA", "en", "The weather is nice today."),
    ("spkA-en-002", "spkA", "en", "Good morning."),
    ("spkB-de-001", "spkB", "de", "Das Wetter ist schön."),
]


@pytest.fixture(scope="module")
def src_dir(tmp_path_factory) -> Path:
    from espnet2_bloomzmms.data.synthesize import synthesize, write_wav

    root = tmp_path_factory.mktemp("sp_src")
    utts = {}
    for uid, spk, lang, text in UTTS:
        wav = root / "wav" / f"{uid}.wav"
        write_wav(wav, synthesize(text, lang, rate=300), 16000)
        utts[uid] = {"wav": str(wav), "text": text, "spk": spk, "lang": lang,
                     "prefix": "Repeat the sentence: ", "postfix": f"\n({lang}) "}
    write_data_dir(root / "data", utts)
    return root / "data"


def test_speed_ratio_and_prefix():
    assert speed_ratio(0.9) == (10, 9)
    assert speed_ratio(1.1) == (10, 11)
    assert speed_ratio(0.95) == (20, 19)
    assert speed_ratio(1.0) == (1, 1)
    assert speed_ratio(2) == (1, 2)
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            speed_ratio(bad)
    assert factor_prefix(0.9) == "sp0.9-" and factor_prefix(1.1) == "sp1.1-"
    assert factor_prefix(1.0) == "" and factor_prefix(0.95) == "sp0.95-"


def test_change_speed_is_sox_speed():
    # A 200 Hz tone at speed 1.1 becomes a 220 Hz tone, 1/1.1 as long.
    sr, n = 16000, 16000
    tone = np.sin(2 * np.pi * 200 * np.arange(n) / sr).astype(np.float32)
    out = change_speed(tone, 1.1)
    assert abs(len(out) - n / 1.1) <= 1
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    peak_hz = np.argmax(spectrum) * sr / len(out)
    assert abs(peak_hz - 220) < 2


def _mtimes(directory: Path) -> dict:
    return {p.name: p.stat().st_mtime_ns for p in sorted(directory.iterdir())}


def test_perturb_data_dir(src_dir, tmp_path):
    dst = tmp_path / "train_sp"
    n = perturb_data_dir(src_dir, dst, factors=(0.9, 1.0, 1.1))
    assert n == 3 * len(UTTS) == validate_data_dir(dst, check_audio=True)

    src = read_data_dir(src_dir)
    out = read_data_dir(dst)
    expected_ids = sorted(
        [u for u, *_ in UTTS] + [f"sp{f}-{u}" for f in ("0.9", "1.1") for u, *_ in UTTS],
        key=lambda s: s.encode(),
    )
    assert list(out) == expected_ids  # files are in C/byte order (read_data_dir: file order)

    for uid, spk, lang, text in UTTS:
        orig, _ = soundfile.read(src[uid]["wav"], dtype="float32")
        assert out[uid] == src[uid]  # factor 1.0: same id, same audio entry, no copy
        for f in (0.9, 1.1):
            new = out[f"sp{f}-{uid}"]
            assert new["spk"] == f"sp{f}-{spk}"
            assert {k: new[k] for k in ("text", "lang", "prefix", "postfix")} == {
                k: src[uid][k] for k in ("text", "lang", "prefix", "postfix")
            }
            assert Path(new["wav"]).parent == dst / "wavs"
            wav, sr = soundfile.read(new["wav"], dtype="float32")
            assert sr == 16000 and wav.ndim == 1
            assert abs(len(wav) - len(orig) / f) <= 2
            # Slowing back down recovers the original signal.
            from scipy.signal import resample_poly

            up, down = speed_ratio(f)
            back = resample_poly(wav, down, up)[: len(orig)]
            corr = np.corrcoef(back, orig[: len(back)])[0, 1]
            assert corr > 0.95
    assert not list((dst / "wavs").glob("*1.0*"))
    assert len(list((dst / "wavs").iterdir())) == 2 * len(UTTS)

    spk2utt = read_kv(dst / "spk2utt")
    assert list(spk2utt) == ["sp0.9-spkA", "sp0.9-spkB", "sp1.1-spkA", "sp1.1-spkB",
                             "spkA", "spkB"]
    assert spk2utt["sp1.1-spkA"] == "sp1.1-spkA-en-001 sp1.1-spkA-en-002"
    utt2uniq = read_kv(dst / "utt2uniq")
    assert utt2uniq["sp0.9-spkB-de-001"] == "spkB-de-001"
    assert utt2uniq["spkB-de-001"] == "spkB-de-001"
    # instructions keep their JSON escaping (trailing spaces, newlines)
    assert (dst / "postfix").read_text(encoding="utf-8").splitlines()[0] == (
        'sp0.9-spkA-en-001 "\\n(en) "'
    )

    # Resumable: a second run (with workers) rewrites no audio.
    before = _mtimes(dst / "wavs")
    assert perturb_data_dir(src_dir, dst, factors=(0.9, 1.0, 1.1), num_workers=2) == n
    assert _mtimes(dst / "wavs") == before

    # A missing file and one of the wrong length are redone; the others are kept.
    gone, short = dst / "wavs" / "sp0.9-spkA-en-002.wav", dst / "wavs" / "sp1.1-spkB-de-001.wav"
    gone.unlink()
    soundfile.write(short, np.zeros(100, dtype=np.float32), 16000, subtype="PCM_16")
    before = _mtimes(dst / "wavs")
    perturb_data_dir(src_dir, dst, factors=(0.9, 1.0, 1.1))
    after = _mtimes(dst / "wavs")
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {gone.name, short.name}
    assert soundfile.info(str(short)).frames > 100
    assert not [p for p in (dst / "wavs").iterdir() if p.name.endswith(".tmp")]


def test_pipe_entries_and_unreadable_audio(src_dir, tmp_path):
    src = tmp_path / "src"
    utts = read_data_dir(src_dir)
    first = next(iter(utts))
    utts[first]["wav"] = f"cat {utts[first]['wav']} |"  # a Kaldi pipe entry
    write_data_dir(src, utts)
    assert perturb_data_dir(src, tmp_path / "dst", factors=(1.1,)) == len(UTTS)
    out = read_data_dir(tmp_path / "dst")
    assert set(out) == {f"sp1.1-{u}" for u in utts}
    n = soundfile.info(utts[list(utts)[1]]["wav"]).frames
    assert abs(soundfile.info(out[f"sp1.1-{list(utts)[1]}"]["wav"]).frames - n / 1.1) <= 2

    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not a wav file")
    utts["spkB-de-001"]["wav"] = str(broken)
    write_data_dir(src, utts)
    with pytest.raises(DataDirError, match=r"spkB-de-001.*broken\.wav.*cannot read audio"):
        perturb_data_dir(src, tmp_path / "dst2", factors=(0.9, 1.0))


def test_bad_arguments(src_dir, tmp_path):
    with pytest.raises(ValueError, match="repeat"):
        perturb_data_dir(src_dir, tmp_path / "d", factors=(0.9, 0.90))
    with pytest.raises(ValueError, match="differ"):
        perturb_data_dir(src_dir, src_dir)
    with pytest.raises(DataDirError):
        perturb_data_dir(tmp_path / "missing", tmp_path / "d")


def test_cli(src_dir, tmp_path, capsys):
    src = tmp_path / "src"
    shutil.copytree(src_dir, src)
    dst = tmp_path / "train_sp"
    assert speed_perturb_cli.main(
        ["--src", str(src), "--output_dir", str(dst), "--factors", "0.9", "1.1", "--nj", "2",
         "--audio_dir", str(tmp_path / "audio")]
    ) == 2 * len(UTTS)
    assert f"{dst}: {2 * len(UTTS)} utterances" in capsys.readouterr().out
    ids = list(read_kv(dst / "wav.scp"))
    assert all(u.startswith(("sp0.9-", "sp1.1-")) for u in ids)
    assert len(list((tmp_path / "audio").glob("*.wav"))) == 2 * len(UTTS)
    with pytest.raises(SystemExit):
        speed_perturb_cli.main(["--src", str(src), "--output_dir", str(dst), "--factors", "0"])
    assert "positive" in capsys.readouterr().err


def test_perturbing_a_perturbed_dir_composes_utt2uniq(src_dir, tmp_path):
    perturb_data_dir(src_dir, tmp_path / "sp1", factors=(0.9, 1.0))
    perturb_data_dir(tmp_path / "sp1", tmp_path / "sp2", factors=(1.1,))
    utt2uniq = read_kv(tmp_path / "sp2" / "utt2uniq")
    assert utt2uniq["sp1.1-sp0.9-spkA-en-001"] == "spkA-en-001"
    assert read_kv(tmp_path / "sp2" / "utt2spk")["sp1.1-sp0.9-spkA-en-001"] == "sp1.1-sp0.9-spkA"
