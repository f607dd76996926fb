"""Keep frozen pretrained weights out of checkpoints.

A frozen MMS-1B or BLOOMZ-7b1 would otherwise put gigabytes of unchanged weights into
every ``{epoch}epoch.pth`` that ESPnet's trainer writes. The component's config names
its base checkpoint, so the weights are reloaded from there when the model is built;
the state dict holds only what training changed (weighted-sum weights, LoRA, ...).
Frozen weights also keep the dtype they were configured in when the model is cast.
"""

from typing import Callable, Set

import torch


def frozen_parameter_names(module: torch.nn.Module) -> Set[str]:
    """Names (relative to ``module``) of its parameters that do not train, tied ones
    (e.g. an LM head sharing the input embeddings) under each of their names."""
    return {n for n, p in module.named_parameters(remove_duplicate=False) if not p.requires_grad}


def exclude_frozen_from_state_dict(module: torch.nn.Module) -> None:
    """Make ``module`` leave its frozen parameters out of state dicts and accept their
    absence when a state dict is loaded (also with ``strict=True``)."""

    def drop_frozen(mod, state_dict, prefix, local_metadata):
        for name in frozen_parameter_names(mod):
            state_dict.pop(prefix + name, None)

    def keep_frozen_when_absent(mod, state_dict, prefix, *args):
        for name, param in mod.named_parameters(remove_duplicate=False):
            if not param.requires_grad:
                state_dict.setdefault(prefix + name, param)

    module.register_state_dict_post_hook(drop_frozen)
    module.register_load_state_dict_pre_hook(keep_frozen_when_absent)


def keeping_frozen_dtype(module: torch.nn.Module, fn: Callable[[torch.Tensor], torch.Tensor]):
    """``fn`` (a ``Module._apply`` conversion) that moves ``module``'s frozen weights and
    buffers to the requested device but keeps their dtype.

    ESPnet's training entry casts the whole model (``model.to(dtype=train_dtype, ...)``);
    a frozen MMS or LLM configured in bfloat16/float16 (or quantized, with float16
    embeddings and norms) would come out float32, twice the memory the config asked for.
    Trainable tensors (LoRA adapters, layer weights), the buffers of trainable parts and
    gradients convert as asked.
    """
    frozen = {id(p) for p in module.parameters() if not p.requires_grad and p.is_floating_point()}
    for sub in module.modules():  # buffers of wholly frozen parts (e.g. rotary tables)
        if not any(p.requires_grad for p in sub.parameters()):
            frozen |= {id(b) for b in sub.buffers(recurse=False) if b.is_floating_point()}

    def convert(t: torch.Tensor) -> torch.Tensor:
        if id(t) not in frozen:
            return fn(t)
        target = fn(t.new_empty(0))  # where and in what dtype fn would put it
        return t.to(device=target.device) if target.dtype != t.dtype else fn(t)

    return convert
