"""MMS frontend: a pretrained wav2vec2-family encoder as ESPnet features.

The features are a learned softmax-weighted sum of all hidden layers (the input of the
transformer plus every layer's output), as in the paper. The pretrained encoder is
frozen by default, then it runs without gradients and always in eval mode (no dropout,
no SpecAugment or layer drop inside the Hugging Face model).
"""

import math
from typing import Tuple

import torch
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from transformers import AutoModel

from espnet2_bloomzmms.utils.frozen_weights import exclude_frozen_from_state_dict
from espnet2_bloomzmms.utils.hf_loading import DTYPES, build_from_config, load_pretrained


def normalize_waveform(x: torch.Tensor, lengths: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Zero mean, unit variance over each utterance's real samples; padding stays 0.

    This is what wav2vec2 feature extractors (``do_normalize=True``) do, vectorised.
    """
    mask = torch.arange(x.size(1), device=x.device)[None, :] < lengths[:, None]
    n = lengths.clamp(min=1).to(x.dtype)[:, None]
    mean = (x * mask).sum(1, keepdim=True) / n
    var = (((x - mean) * mask) ** 2).sum(1, keepdim=True) / n
    return (x - mean) / torch.sqrt(var + eps) * mask


OUTPUT_LENGTHS = ("conv", "s3prl")
CTC_HEAD = ("lm_head.",)  # a ForCTC checkpoint's output layer (MMS-1b-all's): the frontend uses the layers below it


def s3prl_frame_counts(input_lengths: torch.Tensor, config) -> torch.Tensor:
    """Frames per utterance as s3prl reports them: one per started hop of the conv stack."""
    hop = math.prod(config.conv_stride)
    return torch.div(input_lengths - 1, hop, rounding_mode="floor") + 1


def repeat_last_frame(feats: torch.Tensor, lengths: torch.Tensor, counts: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """``feats`` (B, T, D) with each utterance's frames beyond its ``lengths`` replaced by
    its last real frame, up to ``counts`` frames (what s3prl pads with; it trims longer)."""
    index = torch.arange(int(counts.max()), device=feats.device)[None, :]
    index = torch.minimum(index, (lengths - 1).clamp(min=0)[:, None])
    return feats.gather(1, index[..., None].expand(-1, -1, feats.size(-1))), counts


class MMSFrontend(AbsFrontend):
    """Any Hugging Face wav2vec2-family checkpoint (MMS, XLS-R, HuBERT, WavLM, ...).

    Args:
        model_name_or_path: hub id (``facebook/mms-1b-all``) or local directory.
        fs: sampling rate of the input; wav2vec2 models are trained at 16 kHz.
        freeze: keep the pretrained weights fixed (only the layer weights train).
        normalize_waveform: per-utterance waveform normalisation, as the checkpoint's
            feature extractor does before the model.
        dtype: ``float32``, ``bfloat16`` or ``float16`` for the frozen encoder's weights
            (half the memory of MMS-1B's 3.9 GB in 16 bit); the features are float32.
        init_from_config: build the architecture of ``model_name_or_path``'s
            ``config.json`` with random weights instead of loading them (full-size
            architecture tests and memory benchmarks; no weight files needed).
        adapters: keep the checkpoint's attention adapters (``facebook/mms-1b-all``
            has per-language ones; its weights hold the English one). False builds
            the encoder without them, as the authors' s3prl/fairseq MMS had none.
        waveform_norm_eps: the epsilon of the waveform normalisation (s3prl, which the
            authors' models read MMS through, layer-normalises with 1e-5).
        output_lengths: ``conv``: as many frames as the convolution stack gives
            (transformers' count); ``s3prl``: ``(samples - 1) // 320 + 1`` frames, the
            last one repeated to fill, as s3prl reports them (the authors' models).
    """

    def __init__(
        self,
        model_name_or_path: str = "facebook/mms-1b-all",
        fs: int = 16000,
        freeze: bool = True,
        normalize_waveform: bool = True,
        dtype: str = "float32",
        init_from_config: bool = False,
        adapters: bool = True,
        waveform_norm_eps: float = 1e-7,
        output_lengths: str = "conv",
    ):
        super().__init__()
        if dtype not in DTYPES:
            raise ValueError(f"MMS frontend: dtype must be one of {sorted(DTYPES)}, not {dtype!r}")
        if dtype != "float32" and not freeze:
            raise ValueError(f"MMS frontend: dtype {dtype} is for a frozen encoder; train it in float32 (use_amp)")
        if fs != 16000:
            raise ValueError(
                f"MMS frontend: wav2vec2 checkpoints expect 16 kHz audio, got fs={fs}; "
                "resample the data to 16 kHz"
            )
        if output_lengths not in OUTPUT_LENGTHS:
            raise ValueError(f"MMS frontend: output_lengths must be one of {OUTPUT_LENGTHS}, not {output_lengths!r}")
        self.waveform_norm_eps = waveform_norm_eps
        self.output_lengths = output_lengths
        self.model_name_or_path = model_name_or_path
        self.init_from_config = init_from_config
        self.config_overrides = {} if adapters else {"adapter_attn_dim": None}
        if init_from_config:
            self.encoder = build_from_config(AutoModel, model_name_or_path, "speech encoder",
                                             config_overrides=self.config_overrides, dtype=DTYPES[dtype])
        else:
            self.encoder = load_pretrained(
                AutoModel.from_pretrained, model_name_or_path, "speech encoder", dtype=DTYPES[dtype],
                unused=CTC_HEAD, **self.config_overrides,
            )
        if not hasattr(self.encoder, "_get_feat_extract_output_lengths"):
            raise ValueError(
                f"{model_name_or_path!r} is a {type(self.encoder).__name__}, not a "
                "wav2vec2-family speech encoder"
            )
        self.freeze = freeze
        self.normalize_waveform = normalize_waveform
        # MMS / large models use layer norm in the conv stack and take an attention
        # mask; group-norm models (wav2vec2-base) were trained on unmasked zero padding.
        self.use_attention_mask = getattr(self.encoder.config, "feat_extract_norm", "layer") == "layer"
        num_layers = self.encoder.config.num_hidden_layers + 1
        self.layer_weights = torch.nn.Parameter(torch.zeros(num_layers))
        if freeze:
            self.encoder.requires_grad_(False)
            exclude_frozen_from_state_dict(self.encoder)

    def output_size(self) -> int:
        return self.encoder.config.hidden_size

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze:
            self.encoder.eval()
        return self

    def reload_pretrained_parameters(self) -> None:
        """Undo ``--init``: put the pretrained weights back (read again from disk); a
        random-weight encoder (``init_from_config``) has none to put back."""
        if not self.init_from_config:
            fresh = load_pretrained(
                AutoModel.from_pretrained, self.model_name_or_path, "speech encoder", dtype=self.encoder.dtype,
                unused=CTC_HEAD, **self.config_overrides,
            )
            self.encoder.load_state_dict(fresh.state_dict(), strict=False)
        torch.nn.init.zeros_(self.layer_weights)

    def forward(
        self, input: torch.Tensor, input_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        if input.dim() != 2:
            raise ValueError(f"MMS frontend expects (batch, samples) mono audio, got {tuple(input.shape)}")
        x = normalize_waveform(input, input_lengths, self.waveform_norm_eps) if self.normalize_waveform else input
        mask = torch.arange(x.size(1), device=x.device)[None, :] < input_lengths[:, None]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            out = self.encoder(
                x.to(self.encoder.dtype),
                attention_mask=mask.long() if self.use_attention_mask else None,
                output_hidden_states=True,
            )
        hidden = torch.stack(out.hidden_states, dim=0)  # (layers, B, T, D)
        weights = torch.softmax(self.layer_weights, dim=0).to(hidden.dtype)
        feats = torch.einsum("l,lbtd->btd", weights, hidden).float()
        feats_lengths = self.encoder._get_feat_extract_output_lengths(input_lengths).to(input_lengths.dtype)
        feats_lengths = feats_lengths.clamp(max=feats.size(1))
        if self.output_lengths == "s3prl":
            return repeat_last_frame(feats, feats_lengths, s3prl_frame_counts(input_lengths, self.encoder.config))
        return feats, feats_lengths
