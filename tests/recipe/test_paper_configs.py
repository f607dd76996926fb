"""The paper-scale recipe's configs (egs2/fleurs/bloomzmms1/conf) build the full-size
model through the task: real MMS / BLOOMZ dimensions (config.json only, random weights,
meta device), and every component has the parameter count its dimensions imply."""

import copy
import json
from pathlib import Path

import pytest
import torch
import yaml
from test_shipped_configs import ARCHITECTURE

from espnet2_bloomzmms.testing.base_model_configs import BASE_MODELS, write_base_model_config
from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask

CONF = Path(__file__).resolve().parents[2] / "egs2/fleurs/bloomzmms1/conf"
CONFIGS = sorted(CONF.glob("**/train_*.yaml"))
NUM_LANGS = 139  # the paper's training languages


def count(module: torch.nn.Module, trainable=None) -> int:
    return sum(p.numel() for p in module.parameters() if trainable is None or p.requires_grad == trainable)


# ---------------------------------------------------------------- sizes from dimensions
def wav2vec2_params(c) -> int:
    """Wav2Vec2Model (stable layer norm, conv bias, layer-norm conv stack, optional adapters)."""
    h, i = c.hidden_size, c.intermediate_size
    convs, prev = 0, 1
    for dim, k in zip(c.conv_dim, c.conv_kernel):
        convs += prev * dim * k + dim + 2 * dim  # conv weight + bias + layer norm
        prev = dim
    projection = 2 * prev + prev * h + h
    pos_conv = h * (h // c.num_conv_pos_embedding_groups) * c.num_conv_pos_embeddings + c.num_conv_pos_embeddings + h
    layer = 4 * (h * h + h) + 2 * (h * i) + i + h + 2 * 2 * h
    if c.adapter_attn_dim:
        a = c.adapter_attn_dim
        layer += 2 * h + (h * a + a) + (a * h + h)
    return convs + projection + h + pos_conv + 2 * h + c.num_hidden_layers * layer  # h: masked_spec_embed


def bloom_params(c) -> int:
    h = c.hidden_size
    return c.n_layer * (12 * h * h + 13 * h) + c.vocab_size * h + 4 * h


def e_branchformer_params(idim, e) -> int:
    """ESPnet's E-Branchformer with conv2d subsampling, rel. attention, macaron FFNs."""
    d, u, f = e["output_size"], e["cgmlp_linear_units"], e["linear_units"]
    embed = (9 * d + d) + (9 * d * d + d) + (d * (((idim - 1) // 2 - 1) // 2) * d + d)
    ffn = 2 * (d * f + f + f * d + d)
    attention = 4 * (d * d + d) + d * d + 2 * d
    cgmlp = (d * u + u) + u + (u // 2 * e["cgmlp_conv_kernel"] + u // 2) + (u // 2 * d + d)
    merge = (2 * d * e["merge_conv_kernel"] + 2 * d) + (2 * d * d + d)
    block = ffn + 10 * d + attention + cgmlp + merge
    return embed + e["num_blocks"] * block + 2 * d


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def base_model_dirs(tmp_path_factory, tiny_llm_dir) -> dict:
    root = tmp_path_factory.mktemp("base_models")
    return {name: write_base_model_config(name, root / name.replace("/", "--"), tiny_llm_dir) for name in BASE_MODELS}


@pytest.fixture(scope="module")
def lang_list(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("langs") / "lang_list"
    path.write_text("".join(f"l{i:03d}\n" for i in range(NUM_LANGS)))
    return path


def build_on_meta(config: Path, dirs: dict, lang_list: Path):
    conf = yaml.safe_load(config.read_text())
    mms, llm = conf["frontend_conf"]["model_name_or_path"], conf["decoder_conf"]["model_name_or_path"]
    args = BloomzMMSTask.get_parser().parse_args([
        "--config", str(config),
        "--frontend_conf", f"model_name_or_path={dirs[mms]}", "--frontend_conf", "init_from_config=true",
        "--decoder_conf", f"model_name_or_path={dirs[llm]}", "--decoder_conf", "init_from_config=true",
        "--decoder_conf", "quantization=null",  # quantizing happens while loading real weights (CUDA)
        "--lang_list", str(lang_list),
    ])
    with torch.device("meta"):
        return conf, BloomzMMSTask.build_model(args)


# ---------------------------------------------------------------- tests
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(CONF)))
def test_config_builds_full_size_architecture(config, base_model_dirs, lang_list):
    conf, model = build_on_meta(config, base_model_dirs, lang_list)
    mms = BASE_MODELS[conf["frontend_conf"]["model_name_or_path"]]
    llm = BASE_MODELS[conf["decoder_conf"]["model_name_or_path"]]
    enc = conf["encoder_conf"]
    d, h = enc["output_size"], llm.hidden_size
    if conf["frontend_conf"].get("adapters", True) is False:
        mms = copy.deepcopy(mms)
        mms.adapter_attn_dim = None
    assert count(model.frontend.encoder) == wav2vec2_params(mms)
    assert count(model.frontend, trainable=True) == mms.num_hidden_layers + 1  # layer weights only
    assert conf["preencoder_conf"]["input_size"] == mms.hidden_size
    assert count(model.preencoder) == mms.hidden_size * 128 + 128
    assert count(model.encoder) == e_branchformer_params(128, enc) + (NUM_LANGS + 1) * d + d  # + conditioning
    if conf["postencoder"] == "conv_relu_linear":  # the authors': Conv1d(d, d, 2, 2) -> ReLU -> Linear(d, h)
        assert count(model.postencoder) == (d * d * 2 + d) + (d * h + h)
    else:
        assert count(model.postencoder) == d * h * conf["postencoder_conf"]["stride"] + h
    assert model.postencoder.output_size() == h
    lang_adaptor = d * d * 2 + d if conf.get("lang_ctc_conf", {}).get("stride") == 2 else 0
    assert count(model.lang_ctc) == d * (NUM_LANGS + 1) + NUM_LANGS + 1 + lang_adaptor
    lora = conf["decoder_conf"].get("lora")
    adapters = 4 * lora["r"] * h * llm.n_layer if lora else 0  # fused query_key_value: h -> 3h
    assert count(model.decoder.llm) == bloom_params(llm) + adapters
    assert count(model.decoder.llm, trainable=True) == adapters
    assert tuple(model.ctc.ctc_lo.weight.shape) == (llm.vocab_size, h)  # tied to the LLM embeddings
    if "gradient_checkpoint_layers" in enc:
        assert enc["gradient_checkpoint_layers"] == list(range(enc["num_blocks"] + 1))


def test_paper_sizes(base_model_dirs, lang_list):
    """The headline sizes: MMS-1B-all ~962M (965M with its adapters), BLOOMZ-7b1 7.07B, our 17 x 1024 encoder."""
    conf, model = build_on_meta(CONF / "train_ctc.yaml", base_model_dirs, lang_list)
    assert count(model.frontend.encoder) == 964_648_576 - 48 * 44_816  # without the attention adapters
    assert count(model.decoder.llm) == 7_069_016_064  # as published for bloom(z)-7b1
    assert count(model.encoder) - (NUM_LANGS + 1) * 1024 - 1024 == 527_292_416
    assert count(model.postencoder) == 2_098_176 + 4_198_400  # Conv1d(1024, 1024, 2, 2) + Linear(1024, 4096)
    assert count(model.lang_ctc) == 2_098_176 + 143_500  # own Conv1d adaptor + Linear(1024, 140)
    assert conf["decoder_conf"]["quantization"] == "8bit"
    assert model.postencoder.output_size() == 4096


def ctc_pair(ce: Path) -> Path:
    """The step-1 config a step-2 config is initialised from (LoRA is a step-2 option;
    conf/tuning/train_ce_lora.yaml continues the paper's conf/train_ctc.yaml)."""
    name = ce.name.replace("train_ce", "train_ctc").replace("_lora", "")
    return ce.with_name(name) if (ce.parent / name).exists() else CONF / name


@pytest.mark.parametrize("ce", sorted(CONF.glob("**/train_ce*.yaml")), ids=lambda p: str(p.relative_to(CONF)))
def test_each_step2_config_has_a_step1_config_with_its_architecture(ce):
    ctc_conf, ce_conf = (yaml.safe_load(p.read_text()) for p in (ctc_pair(ce), ce))
    for key in ARCHITECTURE:
        assert ctc_conf.get(key) == ce_conf.get(key), key
    for part in ("frontend_conf", "decoder_conf"):
        assert ctc_conf[part]["model_name_or_path"] == ce_conf[part]["model_name_or_path"]
    assert ctc_conf["model_conf"]["ctc_weight"] == 1.0 and ce_conf["model_conf"]["ctc_weight"] == 0.0


def test_paper_training_settings():
    ctc, ce = (yaml.safe_load((CONF / f"train_{s}.yaml").read_text()) for s in ("ctc", "ce"))
    assert ctc["model_conf"]["interctc_weight"] == 0.2 and ctc["encoder_conf"]["interctc_layer_idx"] == [3]
    assert ctc["optim"] == ce["optim"] == "adam" and ctc["optim_conf"]["lr"] == ce["optim_conf"]["lr"] == 1e-4
    assert ctc["scheduler_conf"]["warmup_steps"] == 25000 and ce["scheduler_conf"]["warmup_steps"] == 10000
    assert ctc["max_epoch"] == 70 and ctc["patience"] == 3
    assert ctc["best_model_criterion"] == [["valid", "cer_ctc", "min"]] and ctc["keep_nbest_models"] == 1
    assert ce["best_model_criterion"] == [["valid", "acc", "max"]] and ce["keep_nbest_models"] == 3
    # the authors' batches, epochs, weight decay, DDP option, structures and CTC text
    assert (ctc["batch_type"], ctc["batch_bins"], ctc["accum_grad"], ctc["num_iters_per_epoch"]) == ("length", 7_000_000, 1, 23364)
    assert (ce["batch_type"], ce["batch_bins"], ce["accum_grad"], ce["num_iters_per_epoch"]) == ("length", 600_000, 2, 54381)
    for paper in (ctc, ce):
        assert paper["optim_conf"]["weight_decay"] == 1e-6 and paper["unused_parameters"] is True
        assert paper["postencoder"] == "conv_relu_linear" and paper["lang_ctc_conf"] == {"stride": 2, "target": "per_token"}
        assert paper.get("ctc_conf", {}).get("blank_id", 0) == 0  # the authors' CTC blank: <unk>
    assert ctc["preprocessor_conf"]["text_cleaner"] == "whisper_basic"
    # the 24 GB variants update on as much audio as the paper's configs
    for step, paper in (("ctc", ctc), ("ce", ce)):
        small = yaml.safe_load((CONF / f"tuning/train_{step}_24gb.yaml").read_text())
        assert small["batch_bins"] * small["accum_grad"] == paper["batch_bins"] * paper["accum_grad"]
        assert small["decoder_conf"]["quantization"] == "4bit" and small["use_amp"] is True


@pytest.mark.parametrize("step", ["ctc", "ce"])
def test_deepspeed_configs_follow_the_paper(step):
    ds = json.loads((CONF / f"deepspeed_zero2_{step}.json").read_text())
    paper = yaml.safe_load((CONF / f"train_{step}.yaml").read_text())
    assert ds["zero_optimization"]["stage"] == 2
    assert ds["optimizer"]["type"] == "Adam" and ds["optimizer"]["params"]["lr"] == paper["optim_conf"]["lr"]
    assert ds["scheduler"]["params"]["warmup_num_steps"] == paper["scheduler_conf"]["warmup_steps"]
    assert ds["gradient_accumulation_steps"] == paper["accum_grad"]
    assert "bf16" not in ds  # ESPnet would cast the data to bf16; autocast keeps fp32 inputs
