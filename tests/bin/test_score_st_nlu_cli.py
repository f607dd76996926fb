"""The ST and NLU scoring entry points (result.json + result.md), and behaviour in score_asr."""

import json

import pytest

from espnet2_bloomzmms.bin import score_asr, score_nlu, score_st


def write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def test_score_st_with_utt2pair(tmp_path, capsys):
    data, decode = tmp_path / "data", tmp_path / "exp" / "decode_test"
    ref = write(data / "text", ["u1 a b c d e f", "u2 Где вокзал?"])
    pairs = write(data / "utt2pair", ["u1 en de", "u2 en ru"])
    source = write(data / "transcript", ["u1 a b c d e f", "u2 Where is the station?"])
    hyp = write(decode / "text", ["u1 a b c d e f", "u2 Where is the station?"])
    record = score_st.main(["--ref", str(ref), "--hyp", str(hyp), "--utt2pair", str(pairs), "--source", str(source)])
    assert record["name"] == "decode_test" and record["pairs"]["en-de"]["bleu"]["score"] == pytest.approx(100.0)
    behaviour = record["behaviour"]
    assert behaviour["groups"]["en-ru"]["instruction_following"]["rate"] == 0.0  # answered in Latin script
    assert behaviour["source_copies"]["ids"] == ["u1", "u2"]
    assert json.loads((decode / "result.json").read_text(encoding="utf-8")) == record
    markdown = (decode / "result.md").read_text(encoding="utf-8")
    assert markdown == capsys.readouterr().out
    assert "| decode_test | 100.00 |" in markdown and "### Behaviour (%)" in markdown and "sacrebleu signatures" in markdown


def test_score_st_one_pair_for_all(tmp_path):
    ref = write(tmp_path / "ref", ["u1 Das Wetter ist schön."])
    hyp = write(tmp_path / "hyp", ["u1 Das Wetter ist schön."])
    out = tmp_path / "scores"
    record = score_st.main(["--ref", str(ref), "--hyp", str(hyp), "--src_lang", "en", "--tgt_lang", "de",
                            "--output_dir", str(out), "--name", "sys"])
    assert record["bleu"]["score"] == pytest.approx(100.0) and (out / "result.md").is_file()
    with pytest.raises(SystemExit):
        score_st.main(["--ref", str(ref), "--hyp", str(hyp), "--src_lang", "en"])


def test_score_nlu(tmp_path, capsys):
    ref = write(tmp_path / "data" / "text", ["a Yes", "b No", "c Maybe", "d No"])
    langs = write(tmp_path / "data" / "utt2lang", ["a en", "b en", "c de", "d de"])
    hyp = write(tmp_path / "decode" / "text", ["a Yes", "b No", "c No", "d I do not know"])
    record = score_nlu.main(["--task", "xnli", "--ref", str(ref), "--hyp", str(hyp), "--utt2lang", str(langs)])
    assert record["metrics"]["accuracy"] == pytest.approx(2 / 4) and record["invalid"] == 1
    assert record["languages"]["de"]["metrics"]["accuracy"] == 0.0
    assert record["behaviour"]["instruction_following"]["failed_ids"] == ["d"]
    assert (tmp_path / "decode" / "result.md").read_text(encoding="utf-8") == capsys.readouterr().out
    with pytest.raises(SystemExit):
        score_nlu.main(["--task", "boolq", "--ref", str(ref), "--hyp", str(hyp)])


def test_score_asr_reports_behaviour(tmp_path, capsys):
    ref = write(tmp_path / "text", ["u1 Привет мир", "u2 hello world"])
    langs = write(tmp_path / "utt2lang", ["u1 ru", "u2 en"])
    hyp = write(tmp_path / "decode" / "text", ["u1 privet mir", "u2 hello world"])
    record = score_asr.main(["--ref", str(ref), "--hyp", str(hyp), "--utt2lang", str(langs),
                             "--output", str(tmp_path / "score.json")])
    assert record["behaviour"]["instruction_following"]["failed_ids"] == ["u1"]  # Latin for Russian
    assert "### Behaviour (%)" in capsys.readouterr().out
