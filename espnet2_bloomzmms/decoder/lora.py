"""LoRA settings: a small config object, turned into ``peft.LoraConfig`` in one place."""

from dataclasses import dataclass, field
from typing import List, Optional

import peft


@dataclass
class LoRASettings:
    """Low-rank adapters on the frozen LLM.

    Attributes:
        r: rank of the update matrices.
        alpha: scaling numerator (the update is scaled by ``alpha / r``).
        dropout: dropout on the adapter input.
        target_modules: module names to adapt; ``None`` takes peft's default for the
            architecture (BLOOM: the fused ``query_key_value`` projection).
    """

    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: Optional[List[str]] = field(default=None)

    def to_peft(self) -> peft.LoraConfig:
        return peft.LoraConfig(
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=self.target_modules,
            bias="none",
            task_type=peft.TaskType.CAUSAL_LM,
        )
