"""A fairseq wav2vec2 state dict (the MMS inside the authors' packs) as a Hugging Face
``Wav2Vec2Model``.

The renaming follows the table of transformers' own converter
(``models/wav2vec2/convert_wav2vec2_original_pytorch_checkpoint_to_pytorch.py``: ``MAPPING``
and ``load_conv_layer``). That script is not in the transformers wheels we install (5.x),
and it imports fairseq at module level, so it cannot be imported; its table is restated
here and checked by the tests against the full MMS-1B key list. Where transformers names a
weight-normed tensor (``weight_g``/``weight_v`` in older releases, ``parametrizations.weight.
original0/1`` in current ones) is read from the model being filled, not assumed.
"""

import re
from typing import Dict, List, Tuple

import torch

# fairseq name (regex over the key without the model prefix) -> transformers name;
# {0} is the layer index. The conv block of a layer-norm ("layer") feature extractor is
# Sequential(conv, dropout, Sequential(transpose, LayerNorm, transpose), GELU): .0 and .2.1.
RENAMES: List[Tuple[str, str]] = [
    (r"feature_extractor\.conv_layers\.(\d+)\.0\.(weight|bias)", "feature_extractor.conv_layers.{0}.conv.{1}"),
    (r"feature_extractor\.conv_layers\.(\d+)\.2\.1\.(weight|bias)", "feature_extractor.conv_layers.{0}.layer_norm.{1}"),
    (r"layer_norm\.(weight|bias)", "feature_projection.layer_norm.{0}"),
    (r"post_extract_proj\.(weight|bias)", "feature_projection.projection.{0}"),
    (r"encoder\.pos_conv\.0\.bias", "encoder.pos_conv_embed.conv.bias"),
    (r"encoder\.pos_conv\.0\.weight_g", "encoder.pos_conv_embed.conv.<weight_g>"),
    (r"encoder\.pos_conv\.0\.weight_v", "encoder.pos_conv_embed.conv.<weight_v>"),
    (r"encoder\.layers\.(\d+)\.self_attn\.(q_proj|k_proj|v_proj|out_proj)\.(weight|bias)",
     "encoder.layers.{0}.attention.{1}.{2}"),
    (r"encoder\.layers\.(\d+)\.self_attn_layer_norm\.(weight|bias)", "encoder.layers.{0}.layer_norm.{1}"),
    (r"encoder\.layers\.(\d+)\.fc1\.(weight|bias)", "encoder.layers.{0}.feed_forward.intermediate_dense.{1}"),
    (r"encoder\.layers\.(\d+)\.fc2\.(weight|bias)", "encoder.layers.{0}.feed_forward.output_dense.{1}"),
    (r"encoder\.layers\.(\d+)\.final_layer_norm\.(weight|bias)", "encoder.layers.{0}.final_layer_norm.{1}"),
    (r"encoder\.layer_norm\.(weight|bias)", "encoder.layer_norm.{0}"),
    (r"mask_emb", "masked_spec_embed"),
]
#: pre-training heads that the encoder does not run (wav2vec2's quantizer and projections)
PRETRAINING_ONLY = re.compile(r"(quantizer|project_q|final_proj|project_inp|target_glu)\..*|label_embs_concat")


def _weight_norm_names(model: torch.nn.Module) -> Dict[str, str]:
    keys = set(model.state_dict())
    for g, v in (("parametrizations.weight.original0", "parametrizations.weight.original1"), ("weight_g", "weight_v")):
        if f"encoder.pos_conv_embed.conv.{g}" in keys:
            return {"<weight_g>": g, "<weight_v>": v}
    raise ValueError("this transformers Wav2Vec2Model has no weight-normed positional convolution")


def rename(state: Dict[str, torch.Tensor], model: torch.nn.Module) -> Tuple[Dict[str, torch.Tensor], List[str], List[str]]:
    """(transformers state dict, fairseq keys dropped as pre-training heads, fairseq keys
    that no rule places). ``model`` is the ``Wav2Vec2Model`` to be filled (for its names)."""
    norm_names = _weight_norm_names(model)
    out, dropped, unplaced = {}, [], []
    for key, value in state.items():
        for pattern, target in RENAMES:
            match = re.fullmatch(pattern, key)
            if match:
                name = target.format(*match.groups())
                for placeholder, real in norm_names.items():
                    name = name.replace(placeholder, real)
                out[name] = value
                break
        else:
            (dropped if PRETRAINING_ONLY.fullmatch(key) else unplaced).append(key)
    return out, dropped, unplaced


def check_fits(model: torch.nn.Module, state: Dict[str, torch.Tensor], source) -> None:
    """Every tensor ``model`` has must come from the renamed ``state``, in the model's
    shape, and nothing more: else an error naming the key and ``source``."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ValueError(f"{source}: the MMS weights lack {len(missing)} tensor(s) the configured "
                         f"architecture has, e.g. {missing[:3]}: is --mms_config the MMS of this pack?")
    for name, value in state.items():
        if name not in expected:
            raise ValueError(f"{source}: MMS tensor {name} has no place in the configured architecture")
        if tuple(value.shape) != tuple(expected[name].shape):
            raise ValueError(f"{source}: MMS tensor {name} has shape {tuple(value.shape)}, the configured "
                             f"architecture {tuple(expected[name].shape)}: is --mms_config the MMS of this pack?")
