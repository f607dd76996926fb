"""DDP options a BLOOMZMMS config needs, set before ESPnet builds its trainer.

DDP expects every trainable parameter to get a gradient in every step unless
``find_unused_parameters`` (ESPnet: ``--unused_parameters true``) is on; otherwise it
stops at the second update ("Expected to have finished reduction in the prior
iteration"). Some of our configs leave parameters unused by design.
"""

import argparse
import logging
from typing import List


def unused_parameter_causes(args: argparse.Namespace) -> List[str]:
    """Why some trainable parameters get no gradient in some steps under ``args``."""
    causes = []
    encoder_conf = getattr(args, "encoder_conf", None) or {}
    if float(encoder_conf.get("layer_drop_rate", 0.0)) > 0:
        causes.append(f"encoder layer drop ({encoder_conf['layer_drop_rate']}) skips whole blocks")
    model_conf = getattr(args, "model_conf", None) or {}
    decoder_conf = getattr(args, "decoder_conf", None) or {}
    if float(model_conf.get("ctc_weight", 1.0)) == 1.0 and decoder_conf.get("lora"):
        causes.append("CTC training (ctc_weight 1.0) does not run the LLM, so its LoRA adapters get no gradient")
    return causes


def enable_unused_parameter_detection(args: argparse.Namespace) -> None:
    """Turn ``unused_parameters`` on for a distributed (DDP) run that needs it, saying why."""
    if not getattr(args, "distributed", False) or getattr(args, "use_deepspeed", False):
        return
    causes = unused_parameter_causes(args)
    if causes and not args.unused_parameters:
        logging.warning(
            "setting unused_parameters: true (DDP's find_unused_parameters), since "
            + "; ".join(causes) + ". Set it in the config to silence this warning."
        )
        args.unused_parameters = True
