"""The authors' multi-instruction targets (Zenodo, ``tmi_training_targets.tar.gz``) as our
T / MI / TMI dirs: a fixture archive in the documented format (``<base id>-<k> <token
ids>`` in ``text``, ``decoder_prefix``, ``decoder_postfix``; ids as the authors' data prep
writes them) round-trips through the importer and the CLI."""

import json
import shutil
import subprocess
import sys
import tarfile

import pytest
from transformers import AutoTokenizer

from espnet2_bloomzmms.bin.import_reference_targets import main as targets_main
from espnet2_bloomzmms.data.datadir import read_kv, write_data_dir, write_kv
from espnet2_bloomzmms.reference.targets import TargetsError, import_reference_targets, match_ids

SPEAKER = "3f2a1234567be9"  # a client hash with a digit run, as real ones have
CV = f"cv_de_{SPEAKER}-common_voice_de_17298952"
FLEURS = "fleurs_en_us_10004088536354799741"
OURS = {  # our training dir (speed-perturbed, as stage 2 writes it): id -> (text, lang)
    CV: ("Das Wetter ist heute schön.", "de"),
    f"sp0.9-{CV}": ("Das Wetter ist heute schön.", "de"),
    FLEURS: ("The weather is nice today.", "en"),
    f"sp1.1-{FLEURS}": ("The weather is nice today.", "en"),
}
THEIRS = {  # the authors' base ids of the same clips, and one clip we do not have
    f"{SPEAKER}-common_voice_de_17298952": CV,
    f"sp0.9-{SPEAKER}-common_voice_de_17298952": f"sp0.9-{CV}",
    f"{SPEAKER}-common_voice_de_17298953": None,  # the same speaker's clip we do not have: no match
    "en_us-train-10004088536354799741": FLEURS,
    "sp1.1-en_us-train-10004088536354799741": f"sp1.1-{FLEURS}",
    "d4d4-common_voice_fr_99": None,
}
MI = [("A text in German: ", "\nThe same text in English:", "The weather is nice today."),
      ("Summarize: ", "\nSummary:", "Weather.")]


@pytest.fixture
def train_dir(tmp_path):
    d = tmp_path / "train_sp"
    write_data_dir(d, {u: {"wav": f"/audio/{u}.wav", "text": t, "spk": u.split("-")[0], "lang": lang}
                       for u, (t, lang) in OURS.items()})
    write_kv(d / "utt2num_samples", {u: str(16000 + i) for i, u in enumerate(sorted(OURS))})
    return d


def write_targets(root, tokenizer, asr_last=False, empty_answer=False):
    """The archive's three files: per base id the T entry (-1, or -3 with ``asr_last``)
    and two MI entries, as token ids; ``empty_answer`` makes one MI answer empty."""
    ids = lambda text: " ".join(map(str, tokenizer(text, add_special_tokens=False)["input_ids"]))  # noqa: E731
    files = {"text": [], "decoder_prefix": [], "decoder_postfix": []}
    for base, ours in THEIRS.items():
        transcript = OURS[ours][0] if ours else "Bonjour."
        entries = [("Repeat the sentence: ", ". ", transcript)] + MI
        if asr_last:
            entries = entries[1:] + entries[:1]
        for k, (prefix, postfix, answer) in enumerate(entries, 1):
            if empty_answer and k == 2 and ours == CV:
                answer = ""
            files["text"].append(f"{base}-{k} {ids(answer)}".rstrip() + "\n")
            files["decoder_prefix"].append(f"{base}-{k} {ids(prefix)}\n")
            files["decoder_postfix"].append(f"{base}-{k} {ids(postfix)}\n")
    root.mkdir(parents=True)
    for name, lines in files.items():
        (root / name).write_text("".join(lines), encoding="utf-8")
    return root


@pytest.mark.parametrize("asr_last", [False, True], ids=["T=-1", "T=-3"])
def test_archive_becomes_t_mi_tmi_dirs_with_matched_ids(tmp_path, train_dir, tiny_llm_dir, asr_last):
    tok = AutoTokenizer.from_pretrained(tiny_llm_dir)
    targets = write_targets(tmp_path / "targets" / "tmi_training_targets", tok, asr_last=asr_last)
    counts = import_reference_targets(targets.parent, train_dir, str(tmp_path / "dump/train_sp"), tok)
    assert counts.matched_utterances == 4
    assert counts.unmatched_ids == [f"{SPEAKER}-common_voice_de_17298953", "d4d4-common_voice_fr_99"]
    assert counts.t_examples == 4 and counts.mi_examples == 8 and counts.entries == 18

    t, mi, tmi = (tmp_path / f"dump/train_sp_{v}" for v in ("T", "MI", "TMI"))
    assert sorted(read_kv(t / "text")) == sorted(OURS)
    assert read_kv(t / "text")[FLEURS] == "The weather is nice today."
    assert set(read_kv(t / "prefix").values()) == {"Repeat the sentence: "}
    suffixes = ("-1", "-2") if asr_last else ("-2", "-3")
    assert sorted(read_kv(mi / "text")) == sorted(u + s for u in OURS for s in suffixes)
    mi_id = f"sp0.9-{CV}{suffixes[0]}"
    assert read_kv(mi / "prefix")[mi_id] == "A text in German: "
    assert read_kv(mi / "postfix")[mi_id] == "\nThe same text in English:"
    assert read_kv(mi / "text")[mi_id] == "The weather is nice today."
    assert read_kv(mi / "transcript")[mi_id] == "Das Wetter ist heute schön."  # the CTC target
    assert read_kv(mi / "wav.scp")[mi_id] == f"/audio/sp0.9-{CV}.wav"
    assert read_kv(mi / "utt2lang")[mi_id] == "de" and read_kv(mi / "utt2spk")[mi_id] == "sp0.9"
    assert read_kv(mi / "utt2num_samples")[mi_id] == read_kv(train_dir / "utt2num_samples")[f"sp0.9-{CV}"]
    assert set(read_kv(tmi / "text")) == set(read_kv(t / "text")) | set(read_kv(mi / "text"))


def test_cli_reads_the_tar_gz_and_prints_the_counts(tmp_path, train_dir, tiny_llm_dir, capsys):
    tok = AutoTokenizer.from_pretrained(tiny_llm_dir)
    targets = write_targets(tmp_path / "x" / "targets", tok, empty_answer=True)
    archive = tmp_path / "tmi_training_targets.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(targets, arcname="targets")
    targets_main(["--targets", str(archive), "--train_dir", str(train_dir), "--dst_prefix",
                  str(tmp_path / "dump/train_sp"), "--llm", str(tiny_llm_dir)])
    counts = json.loads(capsys.readouterr().out)
    assert counts["empty_answers_dropped"] == 1 and counts["mi_examples"] == 7 and counts["unmatched_ids"] == 2
    assert counts["reencoding_mismatches"] == {}


def test_tampered_archives_are_refused_naming_the_file_and_line(tmp_path, train_dir, tiny_llm_dir):
    tok = AutoTokenizer.from_pretrained(tiny_llm_dir)
    targets = write_targets(tmp_path / "targets", tok)
    lines = (targets / "decoder_prefix").read_text().splitlines(keepends=True)
    (targets / "decoder_prefix").write_text("".join(lines[:3] + ["x-1 12 abc\n"] + lines[3:]))
    with pytest.raises(TargetsError, match=r"decoder_prefix:4: expected '<uttid> <token ids>'"):
        import_reference_targets(targets, train_dir, str(tmp_path / "out"), tok)
    (targets / "decoder_prefix").write_text("".join(lines[1:]))
    with pytest.raises(TargetsError, match="decoder_prefix and text have different ids"):
        import_reference_targets(targets, train_dir, str(tmp_path / "out"), tok)
    (targets / "decoder_prefix").write_text("".join(lines + lines[:1]))
    with pytest.raises(TargetsError, match=r"decoder_prefix:19: duplicate id"):
        import_reference_targets(targets, train_dir, str(tmp_path / "out"), tok)
    (targets / "decoder_prefix").write_text("".join(lines))
    shutil.copytree(targets, targets / "MI")  # two sets in one tree: which one is meant?
    with pytest.raises(TargetsError, match=r"several files text \("):
        import_reference_targets(targets, train_dir, str(tmp_path / "out"), tok)
    shutil.rmtree(targets / "MI")
    (targets / "decoder_postfix").unlink()
    with pytest.raises(TargetsError, match="no file decoder_postfix"):
        import_reference_targets(targets, train_dir, str(tmp_path / "out"), tok)


def test_no_matching_id_is_an_error_and_ambiguous_ids_are_counted(tmp_path, tiny_llm_dir):
    other = tmp_path / "other"
    write_data_dir(other, {"spk-utt1": {"wav": "/a.wav", "text": "Hi.", "spk": "spk"}})
    tok = AutoTokenizer.from_pretrained(tiny_llm_dir)
    targets = write_targets(tmp_path / "targets", tok)
    with pytest.raises(TargetsError, match="none of its 6 utterance ids matches"):
        import_reference_targets(targets, other, str(tmp_path / "out"), tok)
    matched, unmatched, ambiguous = match_ids(
        ["a-common_voice_de_1", "1234567-x", "sp0.9-a-common_voice_de_1", "3f2a1234567be-common_voice_de_111"],
        ["u1-common_voice_de_1", "fleurs_1234567", "fleurs_de_1234567", "sp0.9-u1-common_voice_de_1",
         "cv_de_3f2a1234567be-common_voice_de_222"])
    assert matched == {"a-common_voice_de_1": "u1-common_voice_de_1",
                       "sp0.9-a-common_voice_de_1": "sp0.9-u1-common_voice_de_1"}
    assert ambiguous == ["1234567-x"] and unmatched == ["3f2a1234567be-common_voice_de_111"]


def test_cli_says_what_is_wrong_without_a_traceback(tmp_path, train_dir, tiny_llm_dir):
    result = subprocess.run([sys.executable, "-m", "espnet2_bloomzmms.bin.import_reference_targets", "--targets",
                             str(tmp_path / "nothing"), "--train_dir", str(train_dir), "--dst_prefix",
                             str(tmp_path / "out"), "--llm", str(tiny_llm_dir)], capture_output=True, text=True)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "neither the extracted targets directory nor the .tar.gz archive" in result.stderr
