"""Every training config a recipe ships builds a model through the task, and the two
steps of a recipe share one architecture (step 2 loads step 1's weights)."""

from pathlib import Path

import pytest
import torch
import yaml

from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask

REPO = Path(__file__).resolve().parents[2]
RECIPE_CONFIGS = sorted(REPO.glob("egs2/*/bloomzmms1/conf/train_*.yaml"))
# the tiny recipe's comparison row (FLEURS' tuning variants: test_paper_configs.py)
MINI_VARIANTS = sorted(REPO.glob("egs2/mini_multilingual/bloomzmms1/conf/tuning/train_*.yaml"))
CONFIGS = RECIPE_CONFIGS + MINI_VARIANTS
ARCHITECTURE = ("frontend", "normalize", "normalize_conf", "preencoder", "preencoder_conf", "encoder",
                "encoder_conf", "lang_ctc_conf", "postencoder", "postencoder_conf", "decoder", "model")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: f"{p.relative_to(REPO).parts[1]}/{p.name}")
def test_config_builds(config, tiny_mms_dir, tiny_llm_dir, tmp_path):
    args = BloomzMMSTask.get_parser().parse_args([
        "--config", str(config), "--output_dir", str(tmp_path),
        "--frontend_conf", f"model_name_or_path={tiny_mms_dir}",
        "--decoder_conf", f"model_name_or_path={tiny_llm_dir}",
        *(["--decoder_conf", "quantization=null"] if not torch.cuda.is_available() else []),  # 8/4 bit: CUDA only
        "--lang_list", str(_lang_list(tmp_path)),
    ])
    model = BloomzMMSTask.build_model(args)
    assert model.postencoder.output_size() == model.decoder.hidden_size
    assert 0.0 <= model.ctc_weight <= 1.0


@pytest.mark.parametrize("recipe", sorted({c.parent for c in RECIPE_CONFIGS}), ids=lambda p: p.parts[-3])
def test_ctc_and_ce_configs_share_the_architecture(recipe):
    ctc = yaml.safe_load((recipe / "train_ctc.yaml").read_text())
    ce = yaml.safe_load((recipe / "train_ce.yaml").read_text())
    for key in ARCHITECTURE:
        assert ctc.get(key) == ce.get(key), key
    # step 2 trains through the LLM (the paper: CE only; the tiny recipe keeps some CTC)
    assert ctc["model_conf"]["ctc_weight"] == 1.0 and ce["model_conf"]["ctc_weight"] < 1.0


@pytest.mark.parametrize("variant", MINI_VARIANTS, ids=lambda p: p.name)
def test_mini_variants_share_the_ctc_steps_architecture(variant):
    """A --ce_variants config is initialised from the same exp/ctc as train_ce.yaml."""
    ctc = yaml.safe_load((variant.parents[1] / "train_ctc.yaml").read_text())
    ce = yaml.safe_load(variant.read_text())
    for key in ARCHITECTURE:
        assert ctc.get(key) == ce.get(key), key


def _lang_list(tmp_path: Path) -> Path:
    path = tmp_path / "langs"
    path.write_text("en\nde\n")
    return path
