"""The mini recipe end to end in fast mode (every stage, a handful of utterances), plus
the messages a user gets when something is missing."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from espnet2_bloomzmms.data.datadir import read_kv, validate_data_dir

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    """A copy of the recipe (and the shared template) in a scratch egs2 tree."""
    root = tmp_path_factory.mktemp("egs2_copy")
    for rel in ("egs2/TEMPLATE/bloomzmms1", "egs2/mini_multilingual/bloomzmms1"):
        outputs = {"data", "dump", "exp", "RESULTS.md"}  # a user's earlier run, at the recipe's top
        shutil.copytree(REPO / rel, root / rel, symlinks=True,
                        ignore=lambda d, names: outputs & set(names) if Path(d) == REPO / rel else set())
    return root / "egs2/mini_multilingual/bloomzmms1"


def run(recipe: Path, *args, env=None, check=True) -> subprocess.CompletedProcess:
    env = dict(os.environ if env is None else env)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    result = subprocess.run(["./run.sh", *args], cwd=recipe, env=env, capture_output=True, text=True, timeout=1500)
    if check:
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-6000:]
    return result


def test_a_stage_before_its_input_says_what_to_run(recipe):
    result = run(recipe, "--fast", "true", "--stage", "5", "--stop_stage", "5", check=False)
    assert result.returncode != 0
    assert "run stage 4 first" in result.stderr


def test_unknown_language_is_refused(recipe):
    result = run(recipe, "--fast", "true", "--langs", "en,xx", "--stop_stage", "1", check=False)
    assert result.returncode != 0
    assert "unknown language code(s) ['xx']" in result.stderr


def test_missing_espeak_says_how_to_install(recipe, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "env", "date", "sed", "basename", "dirname", "nproc", "grep", "cat", "cut", "sort", "mktemp", "rm"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    env = dict(os.environ, PATH=str(bin_dir))
    result = run(recipe, "--fast", "true", "--stop_stage", "1", env=env, check=False)
    assert result.returncode != 0
    assert "espeak-ng is not installed: apt-get install espeak-ng" in result.stderr


@pytest.mark.timeout(1500)  # every stage end to end: 13 min on a busy 2-core machine, near the default 900 s
def test_fast_mode_runs_every_stage(recipe):
    """Every stage on a handful of utterances of two languages (any subset works: the
    shipped base models answer every instruction, so stage 4 has MI targets)."""
    result = run(recipe, "--fast", "true", "--langs", "en,de")
    assert "LOAD REPORT" not in result.stdout + result.stderr  # no transformers report on every load
    future = [line for line in (result.stdout + result.stderr).splitlines() if "FutureWarning" in line]
    assert all("espnet2/train/trainer.py" in line for line in future), future  # ESPnet's own torch.cuda.amp call
    for split in ("train", "dev", "test"):
        assert validate_data_dir(recipe / "data" / split) > 0
    sp = read_kv(recipe / "dump/raw/train_sp/wav.scp")
    assert any(u.startswith("sp0.9-") for u in sp) and any(u.startswith("sp1.1-") for u in sp)
    for name in ("mms", "llm"):  # stage 3 copied the shipped base models
        shipped = recipe / "local/base_models" / name / "model.safetensors"
        assert (recipe / f"exp/models/{name}/model.safetensors").read_bytes() == shipped.read_bytes()
    for variant in ("T", "MI", "TMI"):
        d = recipe / f"dump/raw/train_sp_{variant}"
        assert validate_data_dir(d, check_audio=False) > 0 and (d / "prefix").exists()
    assert len(read_kv(recipe / "dump/raw/train_sp_TMI/text")) > len(read_kv(recipe / "dump/raw/train_sp_T/text"))
    settings = recipe / "exp/instruction_targets/train_sp/settings.json"
    assert settings.exists() and (settings.parent / "templates.tsv").exists()
    assert (recipe / "exp/ctc/valid.cer_ctc.best.pth").exists()
    test_ids = set(read_kv(recipe / "dump/raw/test_T/wav.scp"))
    assert set(read_kv(recipe / "exp/ctc/decode_test/text_ctc")) == test_ids
    for model in ("ce_T", "ce_MI", "ce_TMI", "ce_TMI_ctc_compressed"):  # the paper's input; the comparison row
        exp = recipe / "exp" / model
        config = yaml.safe_load((exp / "config.yaml").read_text())
        assert config["model_conf"]["speech_input"] == ("ctc_compressed" if model.endswith("compressed") else "adaptor")
        for beam in (1, 2):
            assert set(read_kv(exp / f"decode_test_beam{beam}/text")) == test_ids
        summary = yaml.safe_load((exp / "zero_shot_test/summary.json").read_text())
        assert 0.0 <= summary["mean_agreement"] <= 1.0
        # new wordings of trained tasks and the tasks taught on text only (second_word, language)
        assert {r["split"] for r in summary["templates"]} == {"heldout", "text"}
        assert {r["task"] for r in summary["templates"] if r["split"] == "text"} == {"second_word", "language"}
    results = (recipe / "RESULTS.md").read_text()
    assert "### CER (%)" in results and "ctc/decode_test/text_ctc" in results
    assert "Zero-shot instruction transfer on test" in results and "untrained" in results
    assert "### Per task" in results
    assert "| language | task held out (text only) |" in results and "| second_word | task held out (text only) |" in results
    assert "### Against ce_T" in results and "ce_TMI_ctc_compressed/decode_test_beam1/text" in results
    assert (recipe / "exp/packed/bloomzmms_ce_TMI.zip").exists()
    # stages are re-runnable: a second pass over the decoding stage skips finished work
    again = run(recipe, "--fast", "true", "--langs", "en,de", "--stage", "7", "--stop_stage", "7")
    assert "already cover all" in again.stdout
    # decoding split over jobs (local background jobs here) merges into the files one job wrote
    dirs = ("exp/ctc/decode_test", "exp/ce_TMI/decode_test_beam1")
    one_job = {d: {f.name: f.read_text() for f in (recipe / d).glob("text*")} for d in dirs}
    for d in dirs:
        for f in (recipe / d).glob("text*"):
            f.unlink()
    split = run(recipe, "--fast", "true", "--langs", "en,de", "--stage", "7", "--stop_stage", "7",
                "--instruction_sets", "TMI", "--decode_beams", "1", "--decode_nj", "2")
    assert "in 2 jobs" in split.stderr
    for d in dirs:
        assert (recipe / d / "split2" / "keys.2").exists()
        assert {f.name: f.read_text() for f in (recipe / d).glob("text*")} == one_job[d], d


def test_stage_12_scores_translation_and_nlu_sets_beside_their_text_baselines(recipe):
    """Stage 12 on the fast run's TMI model: a FLEURS translation pair and a SpeechGLUE
    task in their released layouts, prepared by prepare_eval_data, decoded from speech,
    given to the LLM as gold and cascade text, scored, and summarised in RESULTS.md."""
    if not (recipe / "exp/ce_TMI/config.yaml").exists():
        pytest.skip("needs the fast run of test_fast_mode_runs_every_stage")
    from espnet2_bloomzmms.bin.prepare_eval_data import main as prepare
    from espnet2_bloomzmms.data.synthesize import synthesize, write_wav

    fleurs = recipe / "corpora/fleurs"
    sentences = {"en_us": ("The cat sleeps.", "The sun is warm."), "de_de": ("Die Katze schläft.", "Die Sonne ist warm.")}
    for lang, texts in sentences.items():
        rows = []
        for i, text in enumerate(texts):
            (fleurs / lang / "audio/test").mkdir(parents=True, exist_ok=True)
            write_wav(fleurs / lang / "audio/test" / f"{lang}{i}.wav", synthesize(text, lang[:2]), 16000)
            rows.append(f"{10 + i}\t{lang}{i}.wav\t{text}\t{text.lower()}\tc\t16000\tMALE\n")
        (fleurs / lang / "test.tsv").write_text("".join(rows), encoding="utf-8")
    prepare(["fleurs_pairs", "--root", str(fleurs), "--src", "en_us", "--tgt", "de_de", "--output_dir", str(recipe / "data/st_en_de")])

    glue = recipe / "corpora/speechglue/sst2/validation"
    glue.mkdir(parents=True)
    rows = [["sentence", "label", "idx", "file_sentence", "length_sentence"]]
    for idx, (text, label) in enumerate((("a wonderful film.", 1), ("a dull and boring story.", 0))):
        wav = glue / "sentence/0" / f"{idx}.wav"
        wav.parent.mkdir(parents=True, exist_ok=True)
        write_wav(wav, synthesize(text, "en"), 16000)
        rows.append([text, label, idx, str(wav), 16000])
    with open(glue / "data.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    prepare(["speechglue", "--root", str(recipe / "corpora/speechglue"), "--task", "sst2", "--output_dir", str(recipe / "data/nlu_sst2")])
    # a two-sentence task with both sentences spoken (the authors' setup)
    rte = recipe / "corpora/speechglue/rte/validation"
    rows = [["sentence1", "sentence2", "label", "idx", "file_sentence1", "file_sentence2"]]
    for idx, (s1, s2, label) in enumerate((("the cat sleeps on the mat.", "a cat sleeps.", 0),
                                           ("it rains in spain.", "spain is dry.", 1))):
        wavs = []
        for field, text in (("sentence1", s1), ("sentence2", s2)):
            wavs.append(rte / field / "0" / f"{idx}.wav")
            wavs[-1].parent.mkdir(parents=True, exist_ok=True)
            write_wav(wavs[-1], synthesize(text, "en"), 16000)
        rows.append([s1, s2, label, idx, *map(str, wavs)])
    with open(rte / "data.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    prepare(["speechglue", "--root", str(recipe / "corpora/speechglue"), "--task", "rte", "--spoken", "all",
             "--output_dir", str(recipe / "data/nlu_rte")])

    run(recipe, "--fast", "true", "--langs", "en,de", "--stage", "12", "--stop_stage", "12",
        "--st_sets", "st_en_de", "--nlu_sets", "nlu_sst2 nlu_rte")
    assert len(read_kv(recipe / "exp/ce_TMI/eval_nlu_rte/asr2/text_ctc")) == 2  # the second sentence's ASR
    for x, ids in (("st_en_de", 2), ("nlu_sst2", 2), ("nlu_rte", 2)):
        for system in ("speech", "gold", "cascade", "cascade_ctc"):
            d = recipe / f"exp/ce_TMI/eval_{x}/{system}"
            assert len(read_kv(d / "text")) == ids
            assert json.loads((d / "result.json").read_text(encoding="utf-8"))
    answers = set(read_kv(recipe / "exp/ce_TMI/eval_nlu_sst2/speech/text").values())
    assert answers <= {"positive", "negative"}  # constrained to the label words
    results = (recipe / "RESULTS.md").read_text(encoding="utf-8")
    assert "st_en_de" in results and "nlu_sst2" in results and "BLEU" in results and "cascade_ctc" in results
