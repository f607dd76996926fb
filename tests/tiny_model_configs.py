"""The training config of the tiny checkpoints, shared by the tests (a module of its own:
``conftest`` names several modules, so ``from conftest import`` is ambiguous)."""

from pathlib import Path


def tiny_model_config(mms_dir: Path, llm_dir: Path, **model_conf) -> dict:
    """A complete training config for the tiny checkpoints (what a YAML file would hold)."""
    return {
        "frontend": "mms",
        "frontend_conf": {"model_name_or_path": str(mms_dir)},
        "normalize": "utterance_mvn",
        "preencoder": "linear",
        "preencoder_conf": {"input_size": 32, "output_size": 16},
        "encoder": "padding_safe_e_branchformer",
        "encoder_conf": {
            "output_size": 32,
            "attention_heads": 2,
            "cgmlp_linear_units": 64,
            "linear_units": 64,
            "num_blocks": 3,
            "input_layer": "conv2d",
            "interctc_layer_idx": [1],
            "interctc_use_conditioning": True,
        },
        "postencoder": "conv_length_adaptor",
        "decoder": "llm",
        "decoder_conf": {"model_name_or_path": str(llm_dir)},
        "model_conf": {"ctc_weight": 0.3, "interctc_weight": 0.2, **model_conf},
        "lang_list": ["en", "de", "fr", "es", "ru", "hi", "sw"],
    }
