"""The paper-scale recipe (egs2/fleurs/bloomzmms1) without GPUs: its --help, stage 1 on
a tiny FLEURS tree in the released layout, and the command lines the shared pipeline
builds for multi-node, DeepSpeed, averaged-model decoding and upload (a stand-in Python
records them instead of training)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from espnet2_bloomzmms.data.datadir import read_kv

REPO = Path(__file__).resolve().parents[2]
FLEURS_UTTS = {  # FLEURS code -> (split, sentence id, file, text, espeak voice)
    "en_us": [("train", 1, "1.wav", "The weather is nice today.", "en"),
              ("dev", 2, "2.wav", "Where is the train station?", "en"),
              ("test", 3, "3.wav", "I have two sisters.", "en")],
    "de_de": [("train", 4, "4.wav", "Das Wetter ist heute schön.", "de"),
              ("dev", 5, "5.wav", "Wo ist der Bahnhof?", "de"),
              ("test", 6, "6.wav", "Ich habe zwei Schwestern.", "de")],
}


@pytest.fixture
def recipe(tmp_path) -> Path:
    for rel in ("egs2/TEMPLATE/bloomzmms1", "egs2/fleurs/bloomzmms1"):
        shutil.copytree(REPO / rel, tmp_path / rel, symlinks=True,
                        ignore=shutil.ignore_patterns("data", "dump", "exp", "RESULTS.md"))
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


def test_stage1_prepares_fleurs_with_one_language_id_per_language(recipe, fleurs_root):
    run(recipe, "--stage", "1", "--stop_stage", "1", "--nj", "1", FLEURS=str(fleurs_root))
    data = recipe / "data"
    assert sorted(read_kv(data / "train/utt2lang").values()) == ["de", "en"]  # ISO ids, not en_us
    assert sorted(read_kv(data / "test_fleurs/text").values()) == ["I have two sisters.", "Ich habe zwei Schwestern."]
    assert sorted(read_kv(data / "dev/utt2lang").values()) == ["de", "en"]
    assert (data / "languages.tsv").read_text(encoding="utf-8") == "de\tGerman\nen\tEnglish\n"
    again = run(recipe, "--stage", "1", "--stop_stage", "1", "--nj", "1", FLEURS=str(fleurs_root))
    assert "data/fleurs_train: already prepared" in again.stderr


@pytest.fixture
def recorded(recipe, tmp_path):
    """A stand-in for the recipe's Python that records training/decoding/upload calls
    (``-c`` snippets still run), and the files the stages before 5-7 and 10 leave."""
    calls = tmp_path / "calls"
    fake = tmp_path / "python"
    fake.write_text(f'#!/usr/bin/env bash\n[ "$1" = -c ] && exec {sys.executable} "$@"\n'
                    f'echo "${{LAUNCHED:-}} $*" >> {calls}\n')
    fake.chmod(0o755)
    for d in ("train_sp_T", "train_sp_MI", "train_sp_TMI", "dev_T", "test_fleurs_T"):
        (recipe / "dump/raw" / d).mkdir(parents=True)
        (recipe / "dump/raw" / d / "prefix").write_text("")
    for exp, files in (("ctc", ["valid.cer_ctc.ave.pth"]), ("ce_T", ["valid.acc.best.pth", "valid.acc.ave.pth"])):
        (recipe / "exp" / exp).mkdir(parents=True)
        (recipe / "exp" / exp / "config.yaml").write_text("best_model_criterion: [[valid, acc, max]]\n")
        for f in files:
            (recipe / "exp" / exp / f).write_text("")
    (recipe / "exp/packed").mkdir()
    (recipe / "exp/packed/bloomzmms_ce_T.zip").write_text("")
    return fake, calls


def test_pipeline_passes_multinode_deepspeed_decoding_and_upload_options(recipe, recorded):
    fake, calls = recorded
    run(recipe, "--python", str(fake), "--stage", "5", "--stop_stage", "7", "--instruction_sets", "T",
        "--num_nodes", "2", "--dist_launcher", "slurm", "--train_launcher", "env LAUNCHED=srun",
        "--use_deepspeed", "true", "--inference_model", "valid.acc.best.pth", "--decode_beams", "5")
    ctc, ce, *decodes = calls.read_text().splitlines()
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
