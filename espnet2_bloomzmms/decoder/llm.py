"""LLM decoder: any Hugging Face causal LM, fed with embeddings instead of token ids.

The base weights are frozen by default (optionally in 8-/4-bit through bitsandbytes),
LoRA adapters are optional, and checkpoints keep only what trains: the base model is
named in the config and reloaded from there.
"""

import inspect
from typing import Optional

import torch
from espnet2.asr.decoder.abs_decoder import AbsDecoder
from transformers import AutoModelForCausalLM
from transformers.modeling_layers import GradientCheckpointingLayer

from espnet2_bloomzmms.decoder.lora import LoRASettings
from espnet2_bloomzmms.utils.frozen_weights import exclude_frozen_from_state_dict
from espnet2_bloomzmms.utils.hf_loading import DTYPES, build_from_config, load_pretrained, load_tokenizer


def quantization_config(quantization: Optional[str]):
    """``BitsAndBytesConfig`` for ``"8bit"``/``"4bit"``, with clear errors where impossible."""
    if quantization is None:
        return None
    if quantization not in ("8bit", "4bit"):
        raise ValueError(f"LLM quantization must be null, '8bit' or '4bit', not {quantization!r}")
    if not torch.cuda.is_available():
        raise RuntimeError(
            f"a {quantization} base LLM needs a CUDA device and bitsandbytes; this machine "
            "has no CUDA device: set decoder_conf.quantization to null (and maybe dtype: bfloat16)"
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as e:
        raise RuntimeError(
            f"a {quantization} base LLM needs bitsandbytes: pip install bitsandbytes"
        ) from e
    from transformers import BitsAndBytesConfig

    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
    )


def enable_activation_checkpointing(llm) -> None:
    """Recompute the LLM's activations in the backward pass (non-reentrant checkpoints);
    transformers 5 renamed ``gradient_checkpointing_enable`` and deprecated the old name."""
    if hasattr(llm, "activation_checkpointing_enable"):
        llm.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        llm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


class LLMDecoder(AbsDecoder):
    """A causal LM that continues a sequence of input embeddings.

    Args:
        model_name_or_path: hub id (``bigscience/bloomz-7b1``) or local directory.
        dtype: ``float32``, ``bfloat16`` or ``float16`` for the base weights.
        quantization: ``null``, ``8bit`` or ``4bit`` (CUDA + bitsandbytes).
        freeze: keep the base weights fixed.
        lora: LoRA settings (see :class:`LoRASettings`); ``null`` for none.
        gradient_checkpointing: recompute LLM activations in the backward pass.
        init_from_config: build the architecture of ``model_name_or_path``'s
            ``config.json`` with random weights instead of loading them (full-size
            architecture tests and memory benchmarks; the directory still needs the
            tokenizer files, no weight files).
    """

    def __init__(
        self,
        model_name_or_path: str = "bigscience/bloomz-7b1",
        dtype: str = "float32",
        quantization: Optional[str] = None,
        freeze: bool = True,
        lora: Optional[dict] = None,
        gradient_checkpointing: bool = False,
        init_from_config: bool = False,
    ):
        super().__init__()
        if dtype not in DTYPES:
            raise ValueError(f"LLM dtype must be one of {sorted(DTYPES)}, not {dtype!r}")
        if init_from_config and quantization is not None:
            raise ValueError(
                "LLM: quantization quantizes pretrained weights while loading them; with "
                "init_from_config there are none (write the random weights out first)"
            )
        self.model_name_or_path = model_name_or_path
        self.freeze = freeze
        self.gradient_checkpointing = gradient_checkpointing
        self.init_from_config = init_from_config
        self.tokenizer = load_tokenizer(model_name_or_path)
        quant = quantization_config(quantization)
        if init_from_config:
            llm = build_from_config(AutoModelForCausalLM, model_name_or_path, "LLM", dtype=DTYPES[dtype])
        else:
            llm = load_pretrained(
                AutoModelForCausalLM.from_pretrained,
                model_name_or_path,
                "LLM",
                dtype=DTYPES[dtype],
                **({"quantization_config": quant, "device_map": {"": torch.cuda.current_device()}} if quant else {}),
            )
        if freeze:
            llm.requires_grad_(False)
        if gradient_checkpointing:
            enable_activation_checkpointing(llm)
        if lora is not None:
            import peft

            if quant is not None:
                llm = peft.prepare_model_for_kbit_training(
                    llm, use_gradient_checkpointing=gradient_checkpointing
                )
            llm = peft.get_peft_model(llm, LoRASettings(**lora).to_peft())
        self.llm = llm
        self.uses_lora = lora is not None
        exclude_frozen_from_state_dict(self.llm)

    @property
    def hidden_size(self) -> int:
        return self.llm.config.hidden_size

    @property
    def input_embeddings(self) -> torch.nn.Embedding:
        return self.llm.get_input_embeddings()

    @property
    def eos_token_id(self) -> int:
        return self.tokenizer.eos_token_id

    def train(self, mode: bool = True):
        """A frozen LLM without LoRA always runs in eval mode (no dropout). Its layers
        still checkpoint when ``gradient_checkpointing`` is set: transformers checkpoints
        a layer only while that layer is in training mode, so the layers themselves
        (not their attention/MLP submodules, which hold the dropout) follow ``mode``."""
        super().train(mode)
        if self.freeze and not self.uses_lora:
            self.llm.eval()
            if self.gradient_checkpointing:
                for layer in self.llm.modules():
                    if isinstance(layer, GradientCheckpointingLayer):
                        layer.training = mode
        return self

    def reload_pretrained_parameters(self) -> None:
        """Undo ``--init`` on the base weights (re-read from the checkpoint); a
        random-weight LLM (``init_from_config``) has none to restore, only its adapters."""
        if not self.init_from_config:
            self._restore_base_weights()
        if self.uses_lora:  # adapters start as an exact no-op again
            for module in self.llm.modules():
                if hasattr(module, "reset_lora_parameters"):
                    for adapter in module.lora_A:
                        module.reset_lora_parameters(adapter, True)

    def _restore_base_weights(self) -> None:
        fresh = load_pretrained(
            AutoModelForCausalLM.from_pretrained, self.model_name_or_path, "LLM",
            dtype=self.llm.dtype,
        )
        source = fresh.state_dict()
        base = self.llm.get_base_model() if self.uses_lora else self.llm
        with torch.no_grad():
            # peft renames an adapted layer's own weight to ``<layer>.base_layer.weight``
            for name, tensor in base.named_parameters(remove_duplicate=False):
                original = source.get(name.replace(".base_layer.", "."))
                if original is not None:
                    tensor.copy_(original)
                elif "lora_" not in name:
                    raise RuntimeError(f"{self.model_name_or_path} has no weight for {name}")

    def embed(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Embeddings of token ids; negative ids (padding) are embedded as id 0 (packing drops them)."""
        return self.input_embeddings(token_ids.clamp(min=0))

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Last hidden states (B, T, H) of the LLM for the given input embeddings.

        The output projection is applied by :meth:`logits` only where it is needed,
        which saves (B, T, vocab) logits: 250 880 per position for BLOOMZ.
        """
        body = self.llm.get_decoder()
        out = body(inputs_embeds=inputs_embeds.to(self.llm.dtype), attention_mask=attention_mask, use_cache=False)
        return out.last_hidden_state

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.llm.get_output_embeddings()(hidden).float()

    @property
    def cache_argument(self) -> str:
        """The keyword under which the LLM's ``forward`` and ``generate`` take a KV cache:
        ``cache`` from transformers 5, ``past_key_values`` before."""
        params = inspect.signature(type(self.llm.get_decoder()).forward).parameters
        return "cache" if "cache" in params else "past_key_values"

    def prefill(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor):
        """Run the LLM over prompts once and keep their KV cache: (last hidden states
        (B, T, H), cache). The cache continues the prompts (:meth:`continuation_scores`,
        ``generate(**{decoder.cache_argument: cache})``) without recomputing them."""
        out = self.llm.get_decoder()(inputs_embeds=inputs_embeds.to(self.llm.dtype),
                                     attention_mask=attention_mask.long(), use_cache=True)
        return out.last_hidden_state, out["cache"] if "cache" in out else out["past_key_values"]

    def continuation_scores(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor,
                            continuations: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Log-likelihoods (B, K) of K token sequences after each of B prompts.

        ``inputs_embeds``/``attention_mask``: the prompts, LEFT-padded so that each ends at
        the last position; ``continuations`` (K, L) token ids right-padded to ``lengths``
        (K,). The prompts run once (:meth:`prefill`); their cache is copied to the K
        continuations of each, which then run in one batch of B * K rows.
        """
        b, k = inputs_embeds.size(0), continuations.size(0)
        last, cache = self.prefill(inputs_embeds, attention_mask)
        cache.batch_repeat_interleave(k)
        ids = continuations.clamp(min=0).repeat(b, 1)  # row b * k + j: continuation j of prompt b
        valid = (torch.arange(continuations.size(1), device=ids.device)[None, :] < lengths[:, None]).repeat(b, 1)
        mask = torch.cat([attention_mask.long().repeat_interleave(k, 0), valid.long()], dim=1)
        hidden = self.llm.get_decoder()(inputs_embeds=self.embed(ids).to(self.llm.dtype), attention_mask=mask,
                                        use_cache=True, **{self.cache_argument: cache}).last_hidden_state
        # the prompt's last position predicts a continuation's first token, its position j the (j + 1)-th
        pred = torch.cat([last[:, -1:].repeat_interleave(k, 0), hidden[:, :-1]], dim=1)
        logp = torch.log_softmax(self.logits(pred[valid]), dim=-1)
        token_logp = logp.gather(1, ids[valid][:, None])[:, 0]
        return logp.new_zeros(valid.shape).masked_scatter_(valid, token_logp).sum(1).view(b, k)
