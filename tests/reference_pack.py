"""Tiny packs in the layout of the authors' hub models (ESPnet v.202304), for the importer.

Written from the documented layout (shared/REFERENCE.md: config keys, state-dict key names
and shape relations, fairseq names of the MMS inside), not from the authors' code nor from
the importer's tables: the MMS is a random transformers ``Wav2Vec2Model`` whose tensors
are written under their fairseq names by :data:`FAIRSEQ_NAMES` below (the direction
opposite to the importer's), and the encoder is ESPnet's own E-Branchformer. The objects
the tensors came from are returned, so a test can run an independent forward with them.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import torch
import yaml
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder
from transformers import AutoTokenizer, Wav2Vec2Model

from espnet2_bloomzmms.tiny_checkpoints import MMS_CONV_KERNEL, MMS_CONV_STRIDE, write_tiny_mms

PREFIX, POSTFIX = "Repeat the sentence: ", ". "
MMS = "frontend.upstream.upstream.model."
LANG_CLASSES = 5  # 4 languages + blank

ENCODER_CONF = {
    "output_size": 32, "attention_heads": 2, "attention_layer_type": "rel_selfattn", "pos_enc_layer_type": "rel_pos",
    "rel_pos_type": "latest", "cgmlp_linear_units": 64, "cgmlp_conv_kernel": 31, "use_linear_after_conv": False,
    "gate_activation": "identity", "num_blocks": 3, "dropout_rate": 0.1, "positional_dropout_rate": 0.1,
    "attention_dropout_rate": 0.1, "input_layer": "conv2d", "layer_drop_rate": 0.1, "linear_units": 64,
    "positionwise_layer_type": "linear", "use_ffn": True, "macaron_ffn": True, "merge_conv_kernel": 31,
    "interctc_layer_idx": [2], "interctc_use_conditioning": True,
}


def fairseq_names(layers: int, conv_layers: int = len(MMS_CONV_KERNEL)) -> Dict[str, str]:
    """fairseq name -> transformers name of every MMS tensor (REFERENCE.md's list)."""
    names = {}
    for i in range(conv_layers):
        for w in ("weight", "bias"):
            names[f"feature_extractor.conv_layers.{i}.0.{w}"] = f"feature_extractor.conv_layers.{i}.conv.{w}"
            names[f"feature_extractor.conv_layers.{i}.2.1.{w}"] = f"feature_extractor.conv_layers.{i}.layer_norm.{w}"
    for w in ("weight", "bias"):
        names[f"layer_norm.{w}"] = f"feature_projection.layer_norm.{w}"
        names[f"post_extract_proj.{w}"] = f"feature_projection.projection.{w}"
        names[f"encoder.layer_norm.{w}"] = f"encoder.layer_norm.{w}"
    names["encoder.pos_conv.0.bias"] = "encoder.pos_conv_embed.conv.bias"
    names["encoder.pos_conv.0.weight_g"] = "encoder.pos_conv_embed.conv.parametrizations.weight.original0"
    names["encoder.pos_conv.0.weight_v"] = "encoder.pos_conv_embed.conv.parametrizations.weight.original1"
    names["mask_emb"] = "masked_spec_embed"
    for n in range(layers):
        ours, theirs = f"encoder.layers.{n}.", f"encoder.layers.{n}."
        for w in ("weight", "bias"):
            for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
                names[f"{theirs}self_attn.{proj}.{w}"] = f"{ours}attention.{proj}.{w}"
            names[f"{theirs}self_attn_layer_norm.{w}"] = f"{ours}layer_norm.{w}"
            names[f"{theirs}fc1.{w}"] = f"{ours}feed_forward.intermediate_dense.{w}"
            names[f"{theirs}fc2.{w}"] = f"{ours}feed_forward.output_dense.{w}"
            names[f"{theirs}final_layer_norm.{w}"] = f"{ours}final_layer_norm.{w}"
    return names


def pretraining_heads(hidden: int, dim: int = 8) -> Dict[str, tuple]:
    """wav2vec2's quantizer and projections, which a pre-trained fairseq MMS carries."""
    return {"quantizer.vars": (1, 2 * 4, dim // 2), "quantizer.weight_proj.weight": (2 * 4, 32),
            "quantizer.weight_proj.bias": (2 * 4,), "project_q.weight": (dim, dim), "project_q.bias": (dim,),
            "final_proj.weight": (dim, hidden), "final_proj.bias": (dim,)}


@dataclass
class ReferenceFixture:
    root: Path
    config_file: Path
    model_file: Path
    mms: Wav2Vec2Model
    mms_config_dir: Path
    state: Dict[str, torch.Tensor]
    token_list: List[str]


def write_reference_pack(
    root: Path,
    llm_dir: Path,
    kind: str = "ce",
    ctc_head: str = "random",
    seed: int = 0,
    llm_name: str = "bigscience/bloomz-7b1",
    extra: Optional[Dict[str, object]] = None,
) -> ReferenceFixture:
    """Write a tiny pack at ``root``: ``kind`` ``ce`` (decoder.* junk, no CTC head) or
    ``ctc`` (a CTC head: ``random`` or ``embeddings``, the LLM's first V rows). ``llm_dir``
    gives the tokenizer (token_list) and the width; the config names ``llm_name``."""
    from safetensors.torch import load_file

    g = torch.Generator().manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(llm_dir)
    token_list = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    llm_weights = load_file(str(llm_dir / "model.safetensors"))
    embeddings = next(v for k, v in llm_weights.items() if k.endswith("word_embeddings.weight"))
    width = embeddings.shape[1]
    exp = f"exp/asr_train_asr_e_branchformer_mms1b-asr_bloomz7b_{'ctc' if kind == 'ctc' else 'aed-tmi'}_raw_" \
          "hugging_face_bigscience-bloomz-7b1_sp"
    model_name = "10epoch.pth" if kind == "ctc" else "valid.acc.ave_3best.pth"

    # the MMS: a tiny mms-1b-all-layout checkpoint (its config, with adapters, is --mms_config),
    # without adapters as the authors' fairseq MMS
    mms_dir = write_tiny_mms(root.parent / f"{root.name}_mms", seed=seed)
    mms = Wav2Vec2Model.from_pretrained(mms_dir, adapter_attn_dim=None).eval()
    config = mms.config
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = EBranchformerEncoder(input_size=16, **ENCODER_CONF).eval()
    encoder.conditioning_layer = torch.nn.Linear(LANG_CLASSES, 32)
    torch.nn.init.normal_(encoder.conditioning_layer.weight, generator=g)

    hf = mms.state_dict()
    state = {MMS + theirs: hf[ours].clone() for theirs, ours in fairseq_names(config.num_hidden_layers).items()}
    for key, shape in pretraining_heads(config.hidden_size).items():
        state[MMS + key] = torch.randn(shape, generator=g)

    def rand(*shape, scale=0.2):
        return torch.randn(shape, generator=g) * scale

    state["frontend.featurizer.weights"] = rand(config.num_hidden_layers + 1, scale=1.0)
    state["preencoder.linear_out.weight"], state["preencoder.linear_out.bias"] = rand(16, 32), rand(16)
    state.update({f"encoder.{k}": v for k, v in encoder.state_dict().items()})
    state["lid_ctc.length_adaptor.0.weight"], state["lid_ctc.length_adaptor.0.bias"] = rand(32, 32, 2), rand(32)
    state["lid_ctc.ctc_lo.weight"], state["lid_ctc.ctc_lo.bias"] = rand(LANG_CLASSES, 32, scale=1.0), rand(LANG_CLASSES)
    state["postencoder.length_adaptor.0.weight"], state["postencoder.length_adaptor.0.bias"] = rand(32, 32, 2), rand(32)
    state["postencoder.linear_in.weight"], state["postencoder.linear_in.bias"] = rand(width, 32), rand(width)
    if kind == "ctc":
        head = embeddings[: len(token_list)].clone() if ctc_head == "embeddings" else rand(len(token_list), width)
        state["ctc.ctc_lo.weight"] = head
    else:  # the 8-bit BLOOMZ as averaging left it, and the embedded instruction
        state["decoder.decoder.transformer.word_embeddings.weight"] = embeddings.to(torch.float16)
        state["decoder.decoder.transformer.h.0.self_attention.query_key_value.weight"] = torch.randint(
            -128, 127, (3 * width, width), generator=g, dtype=torch.int8)
        state["decoder.decoder.transformer.h.0.self_attention.query_key_value.SCB"] = rand(3 * width)
        for name, text in (("prefix", PREFIX), ("postfix", POSTFIX)):  # embedded once, frozen
            state[f"decoder.{name}"] = embeddings[tokenizer(text, add_special_tokens=False)["input_ids"]][None].clone()
    state.update(extra or {})

    ref_config = {
        "config": "conf/tuning/train_asr_e_branchformer_mms1b-asr_bloomz7b_aed.yaml",
        "output_dir": exp, "ngpu": 1, "seed": 0, "num_workers": 4, "batch_type": "length",
        "batch_bins": 600000, "accum_grad": 2, "max_epoch": 70, "patience": 3,
        "best_model_criterion": [["valid", "acc", "max"]], "keep_nbest_models": 3,
        "optim": "adam", "optim_conf": {"lr": 0.0001, "weight_decay": 1.0e-06},
        "scheduler": "warmuplr", "scheduler_conf": {"warmup_steps": 10000},
        "token_list": token_list, "init": None, "input_size": None,
        "ctc_conf": {"bias": False, "dropout_rate": 0.0, "ctc_type": "builtin", "reduce": True},
        "joint_net_conf": None, "use_preprocessor": True, "token_type": "hugging_face", "bpemodel": llm_name,
        "cleaner": "whisper_basic",
        "frontend": "s3prl",
        "frontend_conf": {"frontend_conf": {"upstream": "wav2vec2_custom",
                                            "path_or_url": "downloads/converted_mms1b_all.pt"},
                          "download_dir": "hub", "multilayer_feature": True, "fs": "16k"},
        "specaug": None, "specaug_conf": {}, "normalize": "utterance_mvn", "normalize_conf": {},
        "model": "espnet",
        "model_conf": {"ctc_weight": 1.0 if kind == "ctc" else 0.0, "interctc_weight": 0.2 if kind == "ctc" else 0.0,
                       "aux_ctc": {"2": "utt2lid_token"}, "extract_feats_in_collect_stats": False,
                       "ignore_id": 3, "sym_blank": "<pad>", "sym_sos": "<s>", "sym_eos": "</s>"},
        "preencoder": "linear", "preencoder_conf": {"input_size": 32, "output_size": 16},
        "encoder": "e_branchformer", "encoder_conf": dict(ENCODER_CONF),
        "postencoder": "hugging_face_transformers",
        "postencoder_conf": {"model_name_or_path": "dummy", "length_adaptor_n_layers": 1, "output_size": width},
        "required": ["output_dir", "token_list"], "version": "202304", "distributed": False,
    }
    if kind == "ctc":
        ref_config["decoder"], ref_config["decoder_conf"] = None, {}
        ref_config["freeze_param"] = ["frontend.upstream", "ctc"]
    else:
        ref_config["decoder"] = "hugging_face_transformers"
        ref_config["decoder_conf"] = {"model_name_or_path": llm_name, "load_in_8bit": True, "causal_lm": True,
                                      "prefix": PREFIX, "postfix": POSTFIX}
        ref_config["freeze_param"] = ["frontend.upstream", "decoder", "ctc"]

    exp_dir = root / exp
    exp_dir.mkdir(parents=True, exist_ok=True)
    (exp_dir / "config.yaml").write_text(yaml.safe_dump(ref_config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    torch.save(state, exp_dir / model_name)
    (exp_dir / "RESULTS.md").write_text("# RESULTS\n| dataset | CER |\n|---|---|\n| test_fleurs | 12.4 |\n",
                                        encoding="utf-8")
    (exp_dir / "images").mkdir(exist_ok=True)
    meta = {"espnet": "202304", "files": {"asr_model_file": f"{exp}/{model_name}"}, "python": "3.9.16",
            "timestamp": 1700000000.0, "torch": "2.1.2+cu121",
            "yaml_files": {"asr_train_config": f"{exp}/config.yaml"}}
    (root / "meta.yaml").write_text(yaml.safe_dump(meta), encoding="utf-8")
    (root / "README.md").write_text("---\ntags: [espnet, audio, automatic-speech-recognition]\n---\n", encoding="utf-8")
    return ReferenceFixture(root, exp_dir / "config.yaml", exp_dir / model_name, mms, mms_dir, state, token_list)


# ---------------------------------------------------------------- an independent forward
def authors_encode(fixture: ReferenceFixture, wave: torch.Tensor) -> torch.Tensor:
    """The authors' encoder for one utterance, written from their structure: s3prl's
    waveform layer norm and frame count, the softmax-weighted layer sum, utterance mean
    subtraction, the linear pre-encoder, ESPnet's E-Branchformer conditioned by the
    language CTC (own conv + ReLU, softmax repeated back by nearest interpolation), the
    conv + ReLU + linear adaptor."""
    s = fixture.state
    F = torch.nn.functional
    with torch.no_grad():
        x = F.layer_norm(wave, wave.shape)[None]
        hidden = fixture.mms(x, output_hidden_states=True).hidden_states
        frames = (len(wave) - 1) // math.prod(MMS_CONV_STRIDE) + 1
        weights = torch.softmax(s["frontend.featurizer.weights"], 0)
        feats = sum(w * h for w, h in zip(weights, hidden))
        if feats.size(1) < frames:
            feats = torch.cat([feats, feats[:, -1:].repeat(1, frames - feats.size(1), 1)], 1)
        feats = feats[:, :frames]
        feats = feats - feats.mean(1, keepdim=True)
        feats = F.linear(feats, s["preencoder.linear_out.weight"], s["preencoder.linear_out.bias"])

        class LanguageID:
            def softmax(self, h):
                a = F.relu(F.conv1d(h.transpose(1, 2), s["lid_ctc.length_adaptor.0.weight"],
                                    s["lid_ctc.length_adaptor.0.bias"], stride=2))
                p = torch.softmax(F.linear(a.transpose(1, 2), s["lid_ctc.ctc_lo.weight"], s["lid_ctc.ctc_lo.bias"]), -1)
                return F.interpolate(p.transpose(1, 2), h.size(1)).transpose(1, 2)

        encoder = EBranchformerEncoder(input_size=16, **ENCODER_CONF).eval()
        encoder.conditioning_layer = torch.nn.Linear(LANG_CLASSES, 32)
        encoder.load_state_dict({k[len("encoder."):]: v for k, v in s.items() if k.startswith("encoder.")})
        enc, _, _ = encoder(feats, torch.tensor([frames]), ctc=LanguageID())
        enc = enc[0] if isinstance(enc, tuple) else enc
        a = F.relu(F.conv1d(enc.transpose(1, 2), s["postencoder.length_adaptor.0.weight"],
                            s["postencoder.length_adaptor.0.bias"], stride=2))
        return F.linear(a.transpose(1, 2), s["postencoder.linear_in.weight"], s["postencoder.linear_in.bias"])[0]
