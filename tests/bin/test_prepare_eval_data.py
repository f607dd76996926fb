"""The evaluation-data entry point: one subcommand per corpus reader."""

import csv

import numpy as np
import pytest
import soundfile

from espnet2_bloomzmms.bin.prepare_eval_data import main
from espnet2_bloomzmms.data.datadir import read_kv


def noise(path, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.random.default_rng(seed).uniform(-0.1, 0.1, 4000), 16000, subtype="PCM_16")


def test_fleurs_pairs_with_a_languages_file(tmp_path, capsys):
    root = tmp_path / "fleurs"
    for lang, text in (("en_us", "Hello."), ("sw_ke", "Habari.")):
        (root / lang).mkdir(parents=True)
        (root / lang / "test.tsv").write_text(f"7\t{lang}.wav\t{text}\t{text.lower()}\tc\t4000\tMALE\n", encoding="utf-8")
        noise(root / lang / "audio" / "test" / f"{lang}.wav")
    names = tmp_path / "languages.tsv"
    names.write_text("sw_ke\tKiswahili\n", encoding="utf-8")
    out = tmp_path / "data" / "test_fleurs_en_us_sw_ke"
    main(["fleurs_pairs", "--root", str(root), "--src", "en_us", "--tgt", "sw_ke", "--output_dir", str(out),
          "--languages", str(names)])
    assert read_kv(out / "text") == {"fleurs_en_us_sw_ke_en_us-7": "Habari."}
    assert read_kv(out / "prefix") == {"fleurs_en_us_sw_ke_en_us-7": "Translate the following text from English to Kiswahili\n"}
    assert "1 utterances" in capsys.readouterr().out


def test_speechglue(tmp_path):
    base = tmp_path / "speechglue" / "sst2" / "validation"
    base.mkdir(parents=True)
    with open(base / "data.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["sentence", "label", "idx", "file_sentence", "length_sentence"],
                                 ["a gripping film.", 1, 3, str(base / "sentence" / "0" / "3.wav"), 4000]])
    noise(base / "sentence" / "0" / "3.wav")
    out = tmp_path / "data" / "sst2"
    main(["speechglue", "--root", str(tmp_path / "speechglue"), "--task", "sst2", "--output_dir", str(out)])
    assert read_kv(out / "text") == {"speechglue_en_sst2_3-sentence": "positive"}
    assert read_kv(out / "prefix") == {
        "speechglue_en_sst2_3-sentence": "Does the following sentence have a positive or negative sentiment?\n"}
    with pytest.raises(SystemExit):
        main(["speechglue", "--root", str(tmp_path), "--task", "boolq", "--output_dir", str(out)])
