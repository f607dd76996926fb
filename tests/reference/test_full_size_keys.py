"""The full-size key list of the authors' packs maps with no missing or unexpected key.

Built on the meta device (no weights): MMS-1B's 48 fairseq-named layers, the 17 x 1024
E-Branchformer with its conditioning layer, the 4096-wide adaptor, the language CTC over
140 classes, BLOOMZ-7b1's width and vocabulary; the importer's own steps (split, MMS
renaming into transformers' Wav2Vec2, the key check against our model) run on it.
"""

from pathlib import Path

import pytest
import torch
import yaml
from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder
from reference_pack import MMS, fairseq_names, pretraining_heads
from transformers import Wav2Vec2Model

from espnet2_bloomzmms.reference.model_import import build_mms, check_model_keys, split_state, translate_config
from espnet2_bloomzmms.reference.pack import ReferencePackError
from espnet2_bloomzmms.testing.base_model_configs import base_model_config, write_base_model_config

CLASSES, WIDTH, VOCAB = 140, 4096, 250_680
PAPER_CONFIG = Path(__file__).parents[2] / "egs2/fleurs/bloomzmms1/conf/train_ce.yaml"


def paper_encoder_conf() -> dict:
    return yaml.safe_load(PAPER_CONFIG.read_text())["encoder_conf"]


def full_size_state(kind: str) -> dict:
    """The tensors (on meta) of a pack of ``kind`` ctc/ce, named as REFERENCE.md says."""
    config = base_model_config("facebook/mms-1b")
    with torch.device("meta"):
        hf = Wav2Vec2Model(config).state_dict()
        encoder = EBranchformerEncoder(input_size=128, **paper_encoder_conf())
        state = {MMS + theirs: hf[ours] for theirs, ours in fairseq_names(config.num_hidden_layers).items()}
        state.update({MMS + k: torch.empty(shape) for k, shape in pretraining_heads(config.hidden_size, 768).items()})
        state["frontend.featurizer.weights"] = torch.empty(config.num_hidden_layers + 1)
        state["preencoder.linear_out.weight"], state["preencoder.linear_out.bias"] = torch.empty(128, 1280), torch.empty(128)
        state.update({f"encoder.{k}": v for k, v in encoder.state_dict().items()})
        state["encoder.conditioning_layer.weight"] = torch.empty(1024, CLASSES)
        state["encoder.conditioning_layer.bias"] = torch.empty(1024)
        state["lid_ctc.length_adaptor.0.weight"], state["lid_ctc.length_adaptor.0.bias"] = torch.empty(1024, 1024, 2), torch.empty(1024)
        state["lid_ctc.ctc_lo.weight"], state["lid_ctc.ctc_lo.bias"] = torch.empty(CLASSES, 1024), torch.empty(CLASSES)
        state["postencoder.length_adaptor.0.weight"] = torch.empty(1024, 1024, 2)
        state["postencoder.length_adaptor.0.bias"] = torch.empty(1024)
        state["postencoder.linear_in.weight"], state["postencoder.linear_in.bias"] = torch.empty(WIDTH, 1024), torch.empty(WIDTH)
        if kind == "ctc":
            state["ctc.ctc_lo.weight"] = torch.empty(VOCAB, WIDTH)
        else:
            state["decoder.decoder.transformer.h.0.self_attention.query_key_value.weight"] = torch.empty(
                3 * WIDTH, WIDTH, dtype=torch.int8)
    return state


def full_size_ref_config(kind: str) -> dict:
    return {
        "token_type": "hugging_face", "bpemodel": "bigscience/bloomz-7b1", "token_list": ["t"] * VOCAB,
        "frontend": "s3prl", "frontend_conf": {"frontend_conf": {"upstream": "wav2vec2_custom"},
                                               "multilayer_feature": True},
        "normalize": "utterance_mvn", "preencoder": "linear", "preencoder_conf": {"input_size": 1280, "output_size": 128},
        "encoder": "e_branchformer", "encoder_conf": paper_encoder_conf(),
        "postencoder": "hugging_face_transformers",
        "postencoder_conf": {"model_name_or_path": "dummy", "length_adaptor_n_layers": 1, "output_size": WIDTH},
        "decoder": None if kind == "ctc" else "hugging_face_transformers",
        "decoder_conf": {} if kind == "ctc" else {"model_name_or_path": "bigscience/bloomz-7b1", "load_in_8bit": True,
                                                  "causal_lm": True, "prefix": "Repeat the sentence: ", "postfix": ". "},
        "model_conf": {"ctc_weight": 1.0 if kind == "ctc" else 0.0, "aux_ctc": {"3": "utt2lid_token"}},
    }


@pytest.fixture(scope="module")
def base_dirs(tmp_path_factory, tiny_llm_dir):
    root = tmp_path_factory.mktemp("full_size")
    return (write_base_model_config("facebook/mms-1b-all", root / "mms"),
            write_base_model_config("bigscience/bloomz-7b1", root / "llm", tiny_llm_dir))


@pytest.mark.parametrize("kind", ["ctc", "ce"])
def test_full_size_pack_maps_with_no_missing_or_unexpected_key(kind, base_dirs, tmp_path):
    mms_dir, llm_dir = base_dirs
    split = split_state(full_size_state(kind))
    assert split.unplaced == []
    mms, dropped = build_mms(str(mms_dir), split.mms, "pack")  # strict: every Wav2Vec2 tensor from the file
    assert len(dropped) == 7 and mms.config.num_hidden_layers == 48 and mms.config.adapter_attn_dim is None
    assert sum(p.numel() for p in mms.parameters()) > 960_000_000
    mms.config.save_pretrained(tmp_path / "mms")
    head = "tied"
    if kind == "ctc":
        head = "own"
        split.model["ctc.ctc_lo.weight"] = split.ctc_head
    config = translate_config(full_size_ref_config(kind), "config.yaml", split=split, mms_dir=str(tmp_path / "mms"),
                              llm=str(llm_dir), llm_dtype="float16", llm_quantization="8bit", ctc_head=head,
                              languages=[f"lid{i}" for i in range(1, CLASSES)])
    check_model_keys(config, split.model, "pack")  # every trained tensor of our model, in shape
    assert config["lang_ctc_conf"]["stride"] == 2 and config["ctc_conf"]["vocab_size"] == VOCAB

    del split.model["encoder.conditioning_layer.bias"]
    with pytest.raises(ReferencePackError, match=r"lacks 1 tensor.*conditioning_layer\.bias"):
        check_model_keys(config, split.model, "pack")
