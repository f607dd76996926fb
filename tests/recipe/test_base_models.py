"""The mini recipe's shipped base models (local/base_models/): the files are the ones
build.json records, built with the recorded settings, from train sentences only; stage 3
copies them only when the checksums match; the build script runs end to end (a --quick
build of a few steps)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoConfig, AutoTokenizer

from mini_recipe_scripts import RECIPE, load_local_script

bm = load_local_script("base_models")
tl = load_local_script("teach_llm")
SHIPPED = RECIPE / "local" / "base_models"
DATA = RECIPE / "local" / "data"


def test_shipped_files_are_the_recorded_build():
    info = bm.verify(SHIPPED)  # every file listed, sha256 equal
    listed = set(info["checksums"])
    on_disk = {str(p.relative_to(SHIPPED)) for name in bm.MODELS for p in (SHIPPED / name).rglob("*") if p.is_file()}
    assert on_disk == listed
    assert info["total_bytes"] <= 20e6
    settings = info["settings"]
    assert not settings["quick"]
    for name in bm.MODELS:
        recorded = {k: v for k, v in settings[name].items() if k != "num_threads"}
        assert recorded == bm.SETTINGS[name], name
    mms = AutoConfig.from_pretrained(SHIPPED / "mms")
    assert (mms.hidden_size, mms.num_hidden_layers, mms.num_attention_heads) == (
        settings["mms"]["hidden_size"], settings["mms"]["num_layers"], settings["mms"]["num_heads"])
    llm = AutoConfig.from_pretrained(SHIPPED / "llm")
    assert (llm.hidden_size, llm.n_layer, llm.n_head) == (
        settings["llm"]["hidden_size"], settings["llm"]["num_layers"], settings["llm"]["num_heads"])
    teach = json.loads((SHIPPED / "llm" / "teach_config.json").read_text(encoding="utf-8"))  # the last phase's
    phase = settings["llm"]["speech_phase"]
    assert teach["steps_done"] == phase["steps"] and teach["seed"] == bm.SETTINGS["seed"] and teach["lr"] == phase["lr"]
    assert set(info["llm_phases"]) == {"text", "speech"}
    mms_report = json.loads((SHIPPED / "mms" / "teach_mms.json").read_text(encoding="utf-8"))
    assert mms_report["log"][-1]["step"] == settings["mms"]["steps"]
    card = (SHIPPED / "MODEL_CARD.md").read_text(encoding="utf-8")
    for digest in info["checksums"].values():
        assert digest in card


def test_shipped_models_never_saw_a_test_sentence():
    info = json.loads((SHIPPED / "build.json").read_text(encoding="utf-8"))
    n_dev, n_test = info["settings"]["n_dev"], info["settings"]["n_test"]
    assert (n_dev, n_test) == (20, 20)  # the recipe's split (local/data.sh)
    texts = tl.tokenizer_texts(DATA, n_dev, n_test)
    assert info["data"]["tokenizer_text_sha256"] == bm.text_sha256(texts)
    train = bm.train_sentences(DATA, n_dev, n_test)
    assert info["data"]["train_sentences_sha256"] == bm.text_sha256([s for c in train for s in train[c]])
    texts = set(texts)
    tokenizer = AutoTokenizer.from_pretrained(SHIPPED / "llm")
    for code in train:
        test = tl.split_sentences(tl.load_sentences(DATA, code), n_dev, n_test)["test"]
        assert not set(test) & texts
        # and the tokenizer spells them (byte fallback for what it never saw): lossless
        for sentence in test[:3]:
            assert tokenizer.decode(tokenizer(sentence, add_special_tokens=False)["input_ids"]) == sentence


def test_copy_checks_checksums_and_keeps_a_good_copy(tmp_path, capsys):
    src = shutil.copytree(SHIPPED, tmp_path / "src")
    bm.copy_models(src, {"mms": tmp_path / "exp/mms", "llm": tmp_path / "exp/llm"})
    assert (tmp_path / "exp/llm/model.safetensors").read_bytes() == (SHIPPED / "llm/model.safetensors").read_bytes()
    bm.copy_models(src, {"llm": tmp_path / "exp/llm"})
    assert "already a copy of" in capsys.readouterr().out
    (tmp_path / "exp/llm/config.json").write_text("{}")  # another model there: never overwritten
    with pytest.raises(SystemExit, match="exp/llm exists and is not"):
        bm.copy_models(src, {"llm": tmp_path / "exp/llm"})
    assert (tmp_path / "exp/llm/config.json").read_text() == "{}"
    weights = src / "mms" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(SystemExit, match="mms/model.safetensors: sha256 .* differs"):
        bm.copy_models(src, {"mms": tmp_path / "exp2/mms"})
    assert not (tmp_path / "exp2").exists()
    data[-1] ^= 1
    weights.write_bytes(bytes(data))  # mended
    (src / "llm" / "config.json").unlink()
    with pytest.raises(SystemExit, match="llm/config.json is missing"):
        bm.verify(src)


def test_rebuild_through_stage_3(tmp_path):
    """What ./run.sh --fast true --rebuild_base_models true runs in stage 3: the build
    script itself (a --quick build of a few steps: both models, card, checksums), then the
    checked copy into exp/models, which loads; a second run keeps what is there."""
    recipe = tmp_path / "recipe"
    shutil.copytree(RECIPE / "local", recipe / "local", ignore=shutil.ignore_patterns("base_models", "__pycache__"))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    cmd = ["local/make_models.sh", "--rebuild", "true", "--quick", "true"]
    subprocess.run(cmd, cwd=recipe, env=env, check=True, capture_output=True, text=True, timeout=900)
    out = recipe / "exp/models/base_build_quick"
    info = bm.verify(out)
    assert info["settings"]["quick"] and "--quick smoke build" in (out / "MODEL_CARD.md").read_text()
    assert info["settings"]["mms"]["steps"] == bm.QUICK["mms"]["steps"]
    assert not (out.parent / "base_build_quick.work" / "mms" / "speech" / "test").exists()  # no test speech made
    for name in bm.MODELS:
        assert (recipe / f"exp/models/{name}/model.safetensors").read_bytes() == (out / name / "model.safetensors").read_bytes()
    from espnet2_bloomzmms.frontend.mms import MMSFrontend

    assert MMSFrontend(str(recipe / "exp/models/mms")).output_size() == bm.SETTINGS["mms"]["hidden_size"]
    again = subprocess.run(cmd, cwd=recipe, env=env, check=True, capture_output=True, text=True, timeout=300)
    assert again.stdout.count("already a copy of") == 2
    # the LLM's text phase is kept for a resumed build, and only when it was taught so
    s = bm.settings(True) | {"num_threads": 2}
    work = out.parent / "base_build_quick.work" / "llm"
    text_argv, speech_argv = bm.llm_phases(s, recipe / "local" / "data", work, out)
    assert bm.taught_with(work / "text_taught", text_argv)
    other = list(text_argv)
    other[other.index("--lr") + 1] = "0.1"
    assert not bm.taught_with(work / "text_taught", other)
    assert bm.taught_with(out / "llm", speech_argv) and not bm.taught_with(out / "llm", text_argv)
    assert bm.same_start(work / "text_taught", work / "llm_init")
    other_start = shutil.copytree(work / "llm_init", tmp_path / "other_init")
    config = json.loads((other_start / "config.json").read_text())
    (other_start / "config.json").write_text(json.dumps(config | {"n_layer": config["n_layer"] + 1}))
    assert not bm.same_start(work / "text_taught", other_start)
    # a second build keeps the finished text phase and teaches the speech phase again
    taught = (work / "text_taught" / "model.safetensors").read_bytes()
    result = subprocess.run([sys.executable, "local/base_models.py", "build", "--output_dir", str(tmp_path / "again"),
                             "--work_dir", str(out.parent / "base_build_quick.work"), "--models", "llm", "--quick"],
                            cwd=recipe, env=env, check=True, capture_output=True, text=True, timeout=300)
    assert "the text phase is done, kept" in result.stdout
    assert (work / "text_taught" / "model.safetensors").read_bytes() == taught
    assert json.loads((tmp_path / "again" / "llm" / "build_record.json").read_text())["phases"].keys() == {"text", "speech"}
