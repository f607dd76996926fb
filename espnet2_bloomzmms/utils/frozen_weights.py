"""Keep frozen pretrained weights out of checkpoints.

A frozen MMS-1B or BLOOMZ-7b1 would otherwise put gigabytes of unchanged weights into
every ``{epoch}epoch.pth`` that ESPnet's trainer writes. The component's config names
its base checkpoint, so the weights are reloaded from there when the model is built;
the state dict holds only what training changed (weighted-sum weights, LoRA, ...).
"""

from typing import Set

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
