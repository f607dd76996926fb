"""Kaldi/ESPnet data directories: format round trip, validation, combining."""

import shutil
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import soundfile
from espnet2.fileio.read_text import read_2columns_text

from espnet2_bloomzmms.data.datadir import (
    DataDirError,
    read_data_dir,
    read_kv,
    unescape_value,
    validate_data_dir,
    write_data_dir,
    write_kv,
)
from espnet2_bloomzmms.data.synthesize import synthesize, write_wav


SPEECH = {
    "utt_a": ("en", "Good morning."),
    "utt_b": ("de", "Guten Morgen."),
    "utt_c": ("ru", "Доброе утро."),
    "utt_d": ("hi", "सुप्रभात।"),
}
PREFIX = {
    "utt_a": "Transcribe the speech: ",  # trailing space must survive
    "utt_b": "Translate into English.\nAnswer: ",  # newline + trailing space
    "utt_c": "  leading spaces and a back\\slash, not a \\n newline",
    "utt_d": "",  # empty instruction
}


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    """Real speech files, synthesised once: {uttid: path}, plus 8 kHz / empty / stereo."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    root = tmp_path_factory.mktemp("audio")
    paths = {}
    for uttid, (lang, text) in SPEECH.items():
        paths[uttid] = root / f"{uttid}.wav"
        write_wav(paths[uttid], synthesize(text, lang), 16000)
    wav8k = synthesize("Good morning.", "en", sample_rate=8000)
    write_wav(root / "8k.wav", wav8k, 8000)
    write_wav(root / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    stereo = np.stack([wav8k, wav8k], axis=1)
    soundfile.write(str(root / "stereo.wav"), stereo, 16000, subtype="PCM_16")
    (root / "garbage.wav").write_bytes(b"this is not audio at all" * 10)
    speech = synthesize("Good morning.", "en")
    nan = speech.copy()
    nan[50] = np.inf
    soundfile.write(str(root / "inf.wav"), nan, 16000, subtype="FLOAT")
    write_wav(root / "short.wav", speech[:399], 16000)
    data = paths["utt_a"].read_bytes()
    (root / "truncated.wav").write_bytes(data[: len(data) - 1000])  # an interrupted copy
    return root, paths


def _utts(paths):
    return {
        uttid: dict(
            wav=str(paths[uttid]),
            text=text,
            spk=f"spk_{lang}",
            lang=lang,
            prefix=PREFIX[uttid],
            postfix=" Done.",
        )
        for uttid, (lang, text) in SPEECH.items()
    }


@pytest.fixture
def good_dir(audio, tmp_path):
    _, paths = audio
    d = tmp_path / "data" / "train"
    write_data_dir(d, _utts(paths))
    return d


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _set_line(path: Path, uttid: str, value: str) -> None:
    lines = _lines(path)
    lines = [f"{uttid} {value}\n" if ln.split(" ", 1)[0] == uttid else ln for ln in lines]
    path.write_text("".join(lines), encoding="utf-8")


# ----------------------------------------------------------------------------- format


def test_round_trip_keeps_instructions_verbatim(good_dir, audio):
    _, paths = audio
    files = sorted(p.name for p in good_dir.iterdir())
    assert files == ["postfix", "prefix", "spk2utt", "text", "utt2lang", "utt2spk", "wav.scp"]
    assert read_data_dir(good_dir) == _utts(paths)

    raw = (good_dir / "prefix").read_text(encoding="utf-8")
    assert raw == (
        'utt_a "Transcribe the speech: "\n'
        'utt_b "Translate into English.\\nAnswer: "\n'
        'utt_c "  leading spaces and a back\\\\slash, not a \\\\n newline"\n'
        'utt_d ""\n'
    )
    assert read_kv(good_dir / "prefix")["utt_b"] == "Translate into English.\nAnswer: "
    assert read_kv(good_dir / "prefix", escape=False)["utt_b"] == '"Translate into English.\\nAnswer: "'
    # ESPnet's reader (the training data loader's) strips line ends; JSON keeps them whole
    espnet_view = read_2columns_text(good_dir / "prefix")
    assert {k: unescape_value(v) for k, v in espnet_view.items()} == read_kv(good_dir / "prefix")
    assert (good_dir / "spk2utt").read_text() == (
        "spk_de utt_b\nspk_en utt_a\nspk_hi utt_d\nspk_ru utt_c\n"
    )
    assert validate_data_dir(good_dir) == 4
    assert not [p for p in good_dir.iterdir() if p.name.startswith(".")]  # no temp files


def test_write_kv_sorts_in_byte_order(tmp_path):
    write_kv(tmp_path / "text", {"b": "x", "_c": "y", "B": "z", "a-1": "w", "a": "v"})
    assert [ln.split()[0] for ln in _lines(tmp_path / "text")] == ["B", "_c", "a", "a-1", "b"]
    assert list(read_kv(tmp_path / "text")) == ["B", "_c", "a", "a-1", "b"]


def test_write_kv_refuses_what_would_corrupt_the_file(tmp_path):
    with pytest.raises(ValueError, match="line break"):
        write_kv(tmp_path / "text", {"u1": "two\nlines"})
    with pytest.raises(ValueError, match="invalid id"):
        write_kv(tmp_path / "text", {"u 1": "x"})
    assert not (tmp_path / "text").exists()


def test_write_data_dir_needs_fields_for_all_utts(tmp_path):
    utts = {"u1": dict(wav="a.wav", prefix="p"), "u2": dict(wav="b.wav")}
    with pytest.raises(ValueError, match=r"prefix.*1 of 2.*u2"):
        write_data_dir(tmp_path / "d", utts)
    with pytest.raises(ValueError, match="unknown field"):
        write_data_dir(tmp_path / "d", {"u1": dict(wav="a.wav", speaker="s")})


def test_rewrite_drops_stale_files(good_dir, audio):
    _, paths = audio
    utts = {u: dict(wav=f["wav"], text=f["text"], spk=f["spk"]) for u, f in _utts(paths).items()}
    write_data_dir(good_dir, utts)
    assert not (good_dir / "prefix").exists() and not (good_dir / "utt2lang").exists()
    assert validate_data_dir(good_dir) == 4


# ------------------------------------------------------------------------- validation


def _raises(d, *fragments, **kwargs):
    with pytest.raises(DataDirError) as e:
        validate_data_dir(d, **kwargs)
    msg = str(e.value)
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in:\n{msg}"
    return msg


def test_unsorted(good_dir):
    lines = _lines(good_dir / "text")
    (good_dir / "text").write_text("".join([lines[1], lines[0], *lines[2:]]), encoding="utf-8")
    _raises(good_dir, f"{good_dir}/text: not sorted", "1 of 4 lines", "(utt_a)")


def test_duplicate(good_dir):
    lines = _lines(good_dir / "utt2spk")
    (good_dir / "utt2spk").write_text("".join(lines[:3] + lines[2:]), encoding="utf-8")
    _raises(good_dir, f"{good_dir}/utt2spk: 1 utterance ids occur more than once (utt_c)")


def test_missing_prefix_lines(good_dir):
    lines = _lines(good_dir / "prefix")
    (good_dir / "prefix").write_text(lines[0] + lines[3], encoding="utf-8")
    _raises(good_dir, f"{good_dir}/prefix: 2 of 4 utterances have no line (utt_b, utt_c)")


def test_mismatched_text_ids(good_dir):
    text = (good_dir / "text").read_text(encoding="utf-8").replace("utt_d ", "utt_x ")
    (good_dir / "text").write_text(text, encoding="utf-8")
    _raises(
        good_dir,
        f"{good_dir}/text: 1 of 4 utterances have no line (utt_d)",
        f"{good_dir}/text: 1 ids are not in {good_dir}/wav.scp (utt_x)",
    )


def test_missing_required_file(good_dir):
    (good_dir / "utt2spk").unlink()
    _raises(good_dir, f"{good_dir}/utt2spk: required file is missing")
    (good_dir / "spk2utt").unlink()
    assert validate_data_dir(good_dir, required=("wav.scp", "text")) == 4


def test_stale_spk2utt(good_dir):
    _set_line(good_dir / "utt2spk", "utt_a", "spk_de")
    _raises(good_dir, f"{good_dir}/spk2utt: does not match utt2spk for 2 speakers (spk_de, spk_en)")


def test_structure_only_skips_audio(good_dir, audio):
    root, _ = audio
    _set_line(good_dir / "wav.scp", "utt_b", str(root / "nonexistent.wav"))
    assert validate_data_dir(good_dir, check_audio=False) == 4


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("nonexistent.wav", "cannot read audio"),
        ("garbage.wav", "cannot read audio"),
        ("8k.wav", "sample rate is 8000 Hz, expected 16000 Hz"),
        ("empty.wav", "audio is empty (0 samples)"),
        ("stereo.wav", "audio has 2 channels, must be mono"),
        ("inf.wav", "audio contains NaN or infinite samples"),
        ("short.wav", "audio is 399 samples long, shorter than 400 samples at 16000 Hz (one wav2vec2 frame)"),
        ("truncated.wav", "WAV file is truncated: its data chunk holds"),
    ],
)
def test_bad_audio(good_dir, audio, name, fragment):
    root, _ = audio
    _set_line(good_dir / "wav.scp", "utt_c", str(root / name))
    msg = _raises(good_dir, f"{good_dir}/wav.scp: utt_c: '{root / name}'", fragment)
    assert "utt_a" not in msg and "utt_b" not in msg and "utt_d" not in msg


def test_values_training_or_decoding_would_die_on(good_dir):
    _set_line(good_dir / "text", "utt_b", "   ")
    _set_line(good_dir / "prefix", "utt_c", "Repeat the sentence:")  # not JSON
    _set_line(good_dir / "postfix", "utt_a", "42")  # JSON, but not a string
    _set_line(good_dir / "utt2lang", "utt_d", "klingon")
    with pytest.raises(DataDirError) as e:
        validate_data_dir(good_dir, check_audio=False)
    problems = e.value.problems
    assert f"{good_dir}/text: 1 utterances have an empty transcript (utt_b)" in problems
    assert any(p.startswith(f"{good_dir}/prefix: 1 values are not JSON strings (utt_c (line 3))") for p in problems)
    assert any(p.startswith(f"{good_dir}/postfix: 1 values are not JSON strings (utt_a (line 1))") for p in problems)
    assert any(p.startswith(f"{good_dir}/utt2lang: unknown language code 'klingon' (1 utterances: utt_d)")
               for p in problems)
    assert len(problems) == 4
    # a recipe's own language table is accepted too
    _set_line(good_dir / "text", "utt_b", "Guten Morgen.")
    for name in ("prefix", "postfix"):
        _set_line(good_dir / name, "utt_c" if name == "prefix" else "utt_a", '"ok"')
    assert validate_data_dir(good_dir, check_audio=False, languages={"klingon": "Klingon"}) == 4


def test_non_utf8_file_is_named_with_its_line(good_dir):
    raw = (good_dir / "text").read_bytes().split(b"\n")
    raw[2] = raw[2] + b" \xff"
    (good_dir / "text").write_bytes(b"\n".join(raw))
    with pytest.raises(DataDirError, match=rf"{good_dir}/text:3: not valid UTF-8"):
        validate_data_dir(good_dir, check_audio=False)
    with pytest.raises(DataDirError, match=rf"{good_dir}/text:3: not valid UTF-8"):
        read_kv(good_dir / "text")


def test_8k_accepted_when_asked_for(good_dir, audio):
    root, _ = audio
    for uttid in SPEECH:
        _set_line(good_dir / "wav.scp", uttid, str(root / "8k.wav"))
    assert validate_data_dir(good_dir, sample_rate=8000) == 4


def test_pipe_and_ark_offset_entries(good_dir, audio, tmp_path):
    root, paths = audio
    # a Kaldi-style pipe command, as in wav.scp files of other recipes
    _set_line(good_dir / "wav.scp", "utt_a", f"cat {paths['utt_a']} |")
    if shutil.which("sox"):
        _set_line(good_dir / "wav.scp", "utt_c", f"sox {paths['utt_c']} -t wav - |")
    # audio stored in an ark, addressed as file.ark:offset
    ark, scp = tmp_path / "audio.ark", tmp_path / "audio.scp"
    arrays = {u: soundfile.read(str(paths[u]), dtype="int16") for u in ("utt_b", "utt_d")}
    kaldiio.save_ark(
        str(ark),
        {u: (int(sr), a) for u, (a, sr) in arrays.items()},
        scp=str(scp),
        write_function="soundfile",
    )
    for uttid, entry in read_kv(scp).items():
        assert ":" in entry and entry.startswith(str(ark))
        _set_line(good_dir / "wav.scp", uttid, entry)
    assert validate_data_dir(good_dir) == 4

    # the same rate check applies to entries read through kaldiio
    _set_line(good_dir / "wav.scp", "utt_a", f"cat {root / '8k.wav'} |")
    _raises(good_dir, "utt_a: 'cat", "8k.wav |'", "sample rate is 8000 Hz")


@pytest.mark.filterwarnings("ignore:An error happend when loading")
def test_failing_pipe_command(good_dir, audio):
    root, _ = audio
    _set_line(good_dir / "wav.scp", "utt_d", f"cat {root / 'nonexistent.wav'} |")
    _raises(good_dir, f"{good_dir}/wav.scp: utt_d: 'cat ", "cannot read audio", "did the command fail")


def test_crlf_line_endings(good_dir):
    text = (good_dir / "utt2lang").read_text(encoding="utf-8").replace("\n", "\r\n")
    (good_dir / "utt2lang").write_bytes(text.encode("utf-8"))
    _raises(good_dir, f"{good_dir}/utt2lang: 4 lines end in CRLF", "(utt_a, utt_b, utt_c, utt_d)")


def test_bare_feature_matrix_is_not_audio(good_dir, tmp_path):
    ark, scp = tmp_path / "feats.ark", tmp_path / "feats.scp"
    kaldiio.save_ark(str(ark), {"utt_b": np.zeros((20, 80), np.float32)}, scp=str(scp))
    _set_line(good_dir / "wav.scp", "utt_b", read_kv(scp)["utt_b"])
    _raises(good_dir, "utt_b", "without a sample rate")
