"""The paper-scale recipe (egs2/fleurs/bloomzmms1) without GPUs: its --help, stage 1 on
tiny FLEURS, CoVoST 2, SpeechGLUE and SpeechXNLI trees in the released layouts, and the
command lines the shared pipeline builds for multi-node, DeepSpeed, averaged-model
decoding, upload and the translation / NLU sets of stage 12 (a stand-in Python records
them instead of training)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from espnet2_bloomzmms.data.corpora.fleurs import fleurs_languages
from espnet2_bloomzmms.data.datadir import read_kv

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests/data/corpora"), str(REPO / "tests/data/nlu")]  # the corpus fixture builders
from corpus_fixtures import can_write, write_audio
from test_speechglue import RTE, write_task
from test_speechxnli import write_corpus as write_speechxnli

FLEURS_UTTS = {  # FLEURS code -> (split, sentence id, file, text, espeak voice); one id, one sentence
    "en_us": [("train", 1, "1.wav", "The weather is nice today.", "en"),
              ("dev", 2, "2.wav", "Where is the train station?", "en"),
              ("test", 3, "3.wav", "I have two sisters.", "en")],
    "de_de": [("train", 1, "4.wav", "Das Wetter ist heute schön.", "de"),
              ("dev", 2, "5.wav", "Wo ist der Bahnhof?", "de"),
              ("test", 3, "6.wav", "Ich habe zwei Schwestern.", "de")],
}
CV_CLIENT = "c3" * 32
COVOST2 = {"de": "Das Wetter ist heute schön.", "zh-CN": "今天天气很好。"}  # en->X translations of one clip
EVAL_ARGS = "--fleurs_st_pairs en_us:de_de --covost2_tgts de,zh-CN --speechglue_tasks rte,sst2 --speechxnli_langs en,de"
ST_SETS = ["st_covost2_en_de", "st_covost2_en_zh-CN", "st_fleurs_en_us_de_de"]
NLU_SETS = ["nlu_speechglue_rte", "nlu_speechglue_sst2", "nlu_speechxnli"]


@pytest.fixture
def recipe(tmp_path) -> Path:
    def outputs(src, names):  # a run's outputs in the recipe dir (local/data/ is the recipe's own)
        return [n for n in names if n == "RESULTS.md" or (n in ("data", "dump", "exp") and Path(src).name == "bloomzmms1")]

    for rel in ("egs2/TEMPLATE/bloomzmms1", "egs2/fleurs/bloomzmms1"):
        shutil.copytree(REPO / rel, tmp_path / rel, symlinks=True, ignore=outputs)
    return tmp_path / "egs2/fleurs/bloomzmms1"


def run(recipe: Path, *args, check=True, **env) -> subprocess.CompletedProcess:
    environ = dict(os.environ, **env)
    environ["PATH"] = f"{Path(sys.executable).parent}:{environ.get('PATH', '')}"
    result = subprocess.run(["./run.sh", *args], cwd=recipe, env=environ, capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result


def test_help_documents_every_stage_and_option(recipe):
    text = run(recipe, "--help").stdout
    for stage in range(1, 12):
        assert f"#   {stage} " in text or f"#   {stage}  " in text, stage
    template = (REPO / "egs2/TEMPLATE/bloomzmms1/bloomzmms.sh").read_text()
    options = re.findall(r"^([a-z_]+)=.*#", template[template.index("# Options:"):], flags=re.M)
    assert {"num_nodes", "dist_launcher", "use_deepspeed", "inference_model", "hf_repo"} <= set(options)
    for name in options:  # every option, with its comment
        assert re.search(rf"^{name}=.*# \w", text, flags=re.M), name
    assert "option_names" not in text  # the options, not the parser
    assert "Defaults are the authors' setup" in text and "train_*_linear_adaptor.yaml" in text
    assert re.search(r"^st_decode_args=\"--num_beams 5\"", text, flags=re.M)  # the authors' translation beam
    for name in ("ngpu", "nj", "ctc_config", "ce_config", "mms", "llm"):  # run.sh's own
        assert f"\n{name}=" in text


@pytest.fixture
def fleurs_root(tmp_path) -> Path:
    """FLEURS as released (extracted audio): data/<lang>/<split>.tsv + audio/<split>/."""
    from espnet2_bloomzmms.data.synthesize import synthesize, write_wav

    root = tmp_path / "fleurs"
    for code, utts in FLEURS_UTTS.items():
        for split, sid, name, text, voice in utts:
            wav = synthesize(text, voice, rate=220)
            write_wav(root / "data" / code / "audio" / split / name, wav, 16000)
            row = [str(sid), name, text, text.lower(), "|", str(len(wav)), "FEMALE"]
            (root / "data" / code / f"{split}.tsv").write_text("\t".join(row) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def eval_corpora(tmp_path, fleurs_root) -> dict:
    """db.sh's variables for FLEURS and tiny CoVoST 2 (+ Common Voice English clips as
    mp3), SpeechGLUE (rte, sst2) and SpeechXNLI (en, de) trees in their released layouts."""
    if not can_write("MP3", "MPEG_LAYER_III"):
        pytest.skip("libsndfile without MP3 (Common Voice clips)")
    cv = tmp_path / "cv" / "en"
    noise = np.random.default_rng(0).uniform(-0.1, 0.1, 8000).astype(np.float32)
    write_audio(cv / "clips" / "common_voice_en_1.mp3", noise, 48000, "MP3", "MPEG_LAYER_III")
    (cv / "validated.tsv").write_text(f"client_id\tpath\tsentence\n{CV_CLIENT}\tcommon_voice_en_1.mp3\t"
                                      "The weather is nice today.\n", encoding="utf-8")
    covost = tmp_path / "covost2"
    covost.mkdir()
    for tgt, text in COVOST2.items():
        (covost / f"covost_v2.en_{tgt}.tsv").write_text(
            f"path\ttranslation\tsplit\ncommon_voice_en_1.mp3\t{text}\ttest\n", encoding="utf-8")
    glue = tmp_path / "speechglue"
    write_task(glue, "rte", "validation", ["sentence1", "sentence2"], RTE, with_audio=lambda idx: idx != 2)
    write_task(glue, "sst2", "validation", ["sentence"], [("a gripping film.", 1, 3)])
    (tmp_path / "xnli").mkdir()
    xnli = write_speechxnli(tmp_path / "xnli")
    return {"FLEURS": str(fleurs_root), "COVOST2": str(covost), "COVOST2_CV": str(cv), "SPEECHGLUE": str(glue),
            "SPEECHXNLI": str(xnli / "speechxnli"), "XNLI": str(xnli / "XNLI-1.0")}


def test_stage1_prepares_fleurs_and_eval_sets_and_run_passes_them_to_stage12(recipe, eval_corpora, recorded):
    stage1 = ("--stage", "1", "--stop_stage", "1", "--nj", "1", "--data_args", EVAL_ARGS)
    run(recipe, *stage1, **eval_corpora)
    data = recipe / "data"
    assert sorted(read_kv(data / "train/utt2lang").values()) == ["de", "en"]  # ISO ids, not en_us
    assert sorted(read_kv(data / "test_fleurs/text").values()) == ["I have two sisters.", "Ich habe zwei Schwestern."]
    assert sorted(read_kv(data / "dev/utt2lang").values()) == ["de", "en"]
    assert (data / "languages.tsv").read_text(encoding="utf-8") == "de\tGerman\nen\tEnglish\n"

    # stage 12's sets, the translation instructions naming languages as data/languages.tsv does
    assert sorted(p.name for p in data.glob("st_*")) == ST_SETS and sorted(p.name for p in data.glob("nlu_*")) == NLU_SETS
    fleurs = data / "st_fleurs_en_us_de_de"
    assert list(read_kv(fleurs / "text").values()) == ["Ich habe zwei Schwestern."]
    assert list(read_kv(fleurs / "transcript").values()) == ["I have two sisters."]
    assert list(read_kv(fleurs / "prefix").values()) == ["Translate the following text from English to German\n"]
    for tgt, name in (("de", "German"), ("zh-CN", "Mandarin Chinese")):  # FLEURS's name of zh, not "Chinese"
        d = data / f"st_covost2_en_{tgt}"
        assert list(read_kv(d / "text").values()) == [COVOST2[tgt]]
        assert list(read_kv(d / "transcript").values()) == ["The weather is nice today."]
        assert list(read_kv(d / "utt2pair").values()) == [f"en {tgt}"]
        assert list(read_kv(d / "prefix").values()) == [f"Translate the following text from English to {name}\n"]
    assert [p.name for p in (data / "local/covost2_wavs/en").iterdir()] == ["common_voice_en_1.wav"]  # decoded once
    assert sorted(read_kv(data / "nlu_speechglue_rte/text").values()) == ["no", "yes"]
    assert (data / "nlu_speechglue_sst2/task").read_text().split() == ["sst2"]
    assert sorted(set(read_kv(data / "nlu_speechxnli/utt2lang").values())) == ["de", "en"]
    for pairs in ("nlu_speechglue_rte", "nlu_speechxnli"):  # the authors': both sentences spoken
        assert read_kv(data / pairs / "wav2.scp").keys() == read_kv(data / pairs / "wav.scp").keys()
    assert not (data / "nlu_speechglue_sst2/wav2.scp").exists()  # one sentence
    again = run(recipe, *stage1, **eval_corpora)
    assert "data/fleurs_train: already prepared" in again.stderr
    assert "data/st_covost2_en_zh-CN: already prepared" in again.stderr
    assert "data/nlu_speechxnli: already prepared" in again.stderr

    fake, calls = recorded
    run(recipe, "--python", str(fake), "--stage", "12", "--stop_stage", "12", "--eval_models", "ce_T",
        "--data_args", EVAL_ARGS, "--eval_args", "--batch_size 3", "--baseline_args", "--batch_size 5", **eval_corpora)
    lines = calls.read_text().splitlines()
    # each stage's *_args reach its own CLI only
    assert all("--batch_size 3" in c for c in lines if "bin.inference" in c)
    assert all("--batch_size 5" in c and "--batch_size 3" not in c for c in lines if "bin.text_baselines" in c)
    speech = {m.group(1): c for c in lines  # each set decoded from speech, and scored as translation or NLU
              if (m := re.search(r"bin\.inference .*--data_dir data/(\S+) --output_dir exp/ce_T/eval_\1/speech\b", c))}
    assert sorted(speech) == sorted(ST_SETS + NLU_SETS)
    assert "--allowed_answers yes no" in speech["nlu_speechglue_rte"]
    assert any("--wav_scp data/nlu_speechglue_rte/wav2.scp" in c and "/eval_nlu_speechglue_rte/asr2" in c for c in lines)
    assert any("bin.text_baselines" in c and "--text2 gold=data/nlu_speechxnli/transcript2" in c for c in lines)
    assert not any("--wav_scp data/nlu_speechglue_sst2/wav2.scp" in c for c in lines)
    assert "--allowed_answers" not in speech["st_covost2_en_de"]
    scored = {(c.split()[1], re.search(r"--name ce_T/(\S+)/speech", c).group(1)) for c in lines
              if "bin.score_" in c and "/speech " in c}
    assert scored == {*(("espnet2_bloomzmms.bin.score_st", x) for x in ST_SETS),
                      *(("espnet2_bloomzmms.bin.score_nlu", x) for x in NLU_SETS)}


def test_default_eval_sets_are_covost2s_targets_in_both_corpora(recipe):
    """Without --data_args: CoVoST 2's 15 en->X pairs, and the same languages from FLEURS
    (codes that FLEURS has); only the corpora given are listed."""
    def listed(kind, *opts):
        result = subprocess.run(["local/data.sh", *opts, "--list_eval_sets", kind], cwd=recipe,
                                capture_output=True, text=True, check=True)
        return result.stdout.split()

    st = listed("st", "--fleurs", "/f", "--covost2", "/c")
    covost = [x[len("st_covost2_en_"):] for x in st if x.startswith("st_covost2_en_")]
    pairs = [x[len("st_fleurs_en_us_"):] for x in st if x.startswith("st_fleurs_en_us_")]
    assert covost == "de ca zh-CN fa et mn tr ar sv-SE lv sl ta ja id cy".split() and len(st) == 30
    codes = fleurs_languages()
    assert all(code in codes for code in pairs)
    assert [codes[code].iso639_1 for code in pairs] == [t.split("-")[0] for t in covost]
    assert listed("st", "--covost2", "/c") == st[:15] and listed("st", "--fleurs", "/f", "--fleurs_st_pairs", "none") == []
    assert listed("nlu", "--fleurs", "/f") == []
    assert listed("nlu", "--speechglue", "/g", "--speechxnli", "/x") == [
        f"nlu_speechglue_{t}" for t in
        "cola mnli_matched mnli_mismatched mrpc qnli qqp rte sst2 stsb wnli".split()] + ["nlu_speechxnli"]


def test_stage1_stops_early_on_a_missing_eval_corpus_part(recipe, fleurs_root):
    result = run(recipe, "--stage", "1", "--stop_stage", "1", check=False, FLEURS=str(fleurs_root))
    assert result.returncode != 0  # the default pairs need FLEURS's ca_es, ...
    assert f"FLEURS pair en_us:ca_es: {fleurs_root}/data/ca_es/test.tsv is missing" in result.stderr
    result = run(recipe, "--stage", "1", "--stop_stage", "1", "--data_args", "--fleurs_st_pairs none", check=False,
                 FLEURS=str(fleurs_root), COVOST2=str(fleurs_root))
    assert "--covost2 needs the Common Voice English clips" in result.stderr
    assert not (recipe / "data/fleurs_train").exists()  # before any preparation


def test_voxpopuli_train_is_opt_in(recipe, fleurs_root):
    """VoxPopuli is one of the paper's test sets; its train split is used only when asked."""
    for args, message in ((["--voxpopuli_train", "true"], "--voxpopuli_train true needs --voxpopuli DIR"),
                          (["--voxpopuli", str(fleurs_root), "--voxpopuli_train", "yes"],
                           "--voxpopuli_train must be true or false, not 'yes'")):
        result = subprocess.run(["local/data.sh", "--fleurs", str(fleurs_root), *args], cwd=recipe,
                                capture_output=True, text=True)
        assert result.returncode != 0 and message in result.stderr
    assert not (recipe / "data/fleurs_train").exists()  # refused before any preparation


@pytest.fixture
def recorded(recipe, tmp_path):
    """A stand-in for the recipe's Python that records training/decoding/upload calls
    (``-c`` snippets and the data-file registry's queries still run), and the files the
    stages before 5-7 and 10 leave."""
    calls = tmp_path / "calls"
    fake = tmp_path / "python"
    fake.write_text(f'#!/usr/bin/env bash\n[ "$1" = -c ] && exec {sys.executable} "$@"\n'
                    f'[ "$2" = espnet2_bloomzmms.data.files ] && exec {sys.executable} "$@"\n'
                    f'echo "${{LAUNCHED:-}} $*" >> {calls}\n')
    fake.chmod(0o755)
    for d in ("train_sp_T", "train_sp_MI", "train_sp_TMI", "dev_T", "test_fleurs_T"):
        (recipe / "dump/raw" / d).mkdir(parents=True)
        (recipe / "dump/raw" / d / "prefix").write_text("")
    for exp, files, ctc_weight in (("ctc", ["valid.cer_ctc.ave.pth"], 1.0),
                                   ("ce_T", ["valid.acc.best.pth", "valid.acc.ave.pth"], 0.0)):
        (recipe / "exp" / exp).mkdir(parents=True)
        (recipe / "exp" / exp / "config.yaml").write_text(
            f"best_model_criterion: [[valid, acc, max]]\nmodel_conf: {{ctc_weight: {ctc_weight}}}\n")
        for f in files:
            (recipe / "exp" / exp / f).write_text("")
    (recipe / "exp/packed").mkdir()
    (recipe / "exp/packed/bloomzmms_ce_T.zip").write_text("")
    return fake, calls


def test_pipeline_passes_multinode_deepspeed_decoding_and_upload_options(recipe, recorded):
    fake, calls = recorded
    run(recipe, "--python", str(fake), "--stage", "5", "--stop_stage", "7", "--instruction_sets", "T",
        "--num_nodes", "2", "--dist_launcher", "slurm", "--train_launcher", "env LAUNCHED=srun",
        "--use_deepspeed", "true", "--inference_model", "valid.acc.best.pth", "--decode_beams", "5",
        "--decode_args", "--batch_size 3")
    ctc, ce, *decodes = calls.read_text().splitlines()
    assert len(decodes) == 3 and all(d.endswith("--batch_size 3") for d in decodes)  # CTC, CE, untrained
    times = [line.split("\t") for line in (recipe / "exp/stage_times.tsv").read_text().splitlines()]
    assert [t[0] for t in times] == ["5", "6", "7"] and all(t[1].isdigit() for t in times)  # for RESULTS.md
    assert ctc.startswith("srun -m espnet2_bloomzmms.bin.train --ngpu 4 --resume true --multiprocessing_distributed true")
    assert "--config conf/train_ctc.yaml" in ctc and "--output_dir exp/ctc" in ctc
    assert "--dist_launcher slurm --dist_init_method file://" in ctc and "/exp/ctc/.dist_init_" in ctc
    assert "--use_deepspeed true --deepspeed_config conf/deepspeed_zero2_ctc.json" in ctc
    assert "--frontend_conf model_name_or_path=facebook/mms-1b-all" in ctc
    assert "--decoder_conf model_name_or_path=bigscience/bloomz-7b1" in ctc
    assert "--init_param exp/ctc/valid.cer_ctc.ave.pth" in ce and "--output_dir exp/ce_T" in ce
    assert "--deepspeed_config conf/deepspeed_zero2_ce.json" in ce
    assert any("--model_dir exp/ctc" in d and "--ctc true --llm false" in d for d in decodes)
    assert any("--config exp/ce_T/config.yaml --model_file exp/ce_T/valid.acc.best.pth" in d
               and "--num_beams 5" in d for d in decodes)

    calls.unlink()
    run(recipe, "--python", str(fake), "--stage", "11", "--stop_stage", "11", "--pack_set", "T",
        "--hf_repo", "someone/bloomzmms", "--upload_args", "--private true")
    assert calls.read_text().split() == ["-m", "espnet2_bloomzmms.bin.upload", "--model",
                                         "exp/packed/bloomzmms_ce_T.zip", "--repo_id", "someone/bloomzmms",
                                         "--private", "true"]


def test_multinode_without_launcher_is_refused(recipe, recorded):
    fake, calls = recorded
    result = run(recipe, "--python", str(fake), "--stage", "5", "--stop_stage", "5", "--num_nodes", "2", check=False)
    assert result.returncode != 0
    assert "--num_nodes 2 needs --dist_launcher (slurm or mpi) and --train_launcher" in result.stderr
    assert not calls.exists()
    result = run(recipe, "--python", str(fake), "--stage", "5", "--stop_stage", "5", "--use_deepspeed", "true",
                 "--ctc_deepspeed_config", "conf/none.json", check=False)
    assert result.returncode != 0 and "DeepSpeed config conf/none.json is missing" in result.stderr


def stage2_output(recipe):
    """What stage 4 reads: the formatted training dir (and the T dir's languages)."""
    (recipe / "dump/raw/train_sp").mkdir(parents=True)
    (recipe / "dump/raw/train_sp/wav.scp").write_text("u1 a.wav\n")
    (recipe / "dump/raw/train_sp_T/utt2lang").write_text("u1 en\n")


def test_stage4_spreads_the_mi_answers_over_jobs(recipe, recorded):
    fake, calls = recorded
    stage2_output(recipe)
    run(recipe, "--python", str(fake), "--stage", "4", "--stop_stage", "4", "--mi_nj", "3")
    targets = [c for c in calls.read_text().splitlines() if "make_instruction_targets" in c]
    shards = [c for c in targets if "--shard " in c]
    assert sorted(re.search(r"--shard (\d)", c).group(1) for c in shards) == ["1", "2", "3"]
    assert all("--num_shards 3" in c and "--src dump/raw/train_sp " in c for c in shards)
    final = [c for c in targets if "--src dump/raw/train_sp " in c and "--shard " not in c]
    assert len(final) == 1 and targets.index(final[0]) > max(map(targets.index, shards))  # after the jobs
    assert all((recipe / f"exp/instruction_targets/train_sp/generate.{j}.log").exists() for j in (1, 2, 3))


def test_stage4_takes_the_authors_targets_and_stages_7_8_the_authors_models(recipe, recorded):
    fake, calls = recorded
    stage2_output(recipe)
    run(recipe, "--python", str(fake), "--stage", "4", "--stop_stage", "4", "--mi_targets_from", "downloads/tmi")
    lines = calls.read_text().splitlines()
    assert [c for c in lines if "import_reference_targets" in c] == [
        " -m espnet2_bloomzmms.bin.import_reference_targets --targets downloads/tmi --train_dir dump/raw/train_sp "
        "--dst_prefix dump/raw/train_sp --llm bigscience/bloomz-7b1"]
    targets = [c for c in lines if "make_instruction_targets" in c]  # T only, for dev and test
    assert targets and all("--variants T" in c and "--src dump/raw/train_sp " not in c for c in targets)

    calls.unlink()
    for name, ctc_weight in (("authors_ctc", 1.0), ("authors_ce_tmi", 0.0)):
        (recipe / "exp" / name).mkdir()
        (recipe / "exp" / name / "config.yaml").write_text(f"model_conf: {{ctc_weight: {ctc_weight}}}\n")
    run(recipe, "--python", str(fake), "--stage", "7", "--stop_stage", "7", "--decode_beams", "1 5",
        "--decode_models", "authors_ctc authors_ce_tmi")
    decodes = calls.read_text().splitlines()
    assert len(decodes) == 3  # the CTC model with its head, the CE model at two beams, no untrained baseline
    assert "--model_dir exp/authors_ctc" in decodes[0] and "--ctc true --llm false" in decodes[0]
    assert "--output_dir exp/authors_ctc/decode_test_fleurs" in decodes[0]
    assert all("--model_dir exp/authors_ce_tmi" in d for d in decodes[1:])
    assert ["--num_beams 1" in decodes[1], "--num_beams 5" in decodes[2]] == [True, True]
    result = run(recipe, "--python", str(fake), "--stage", "7", "--stop_stage", "7", "--decode_models", "nothere",
                 check=False)
    assert result.returncode != 0 and "exp/nothere/config.yaml is missing" in result.stderr
