"""Speech embeddings that depend on the speech, from an untrained model."""

from typing import Sequence

import numpy as np
import torch


@torch.no_grad()
def standardize_adaptor(model, waves: Sequence[np.ndarray]) -> None:
    """Scale and shift the untrained (linear) adaptor per output channel to zero mean and
    unit variance over ``waves``. Untrained, every speech embedding is nearly the same
    vector whatever the audio, so a model's outputs would not depend on its speech;
    standardized, they vary from frame to frame as a trained adaptor's do."""
    model.eval()
    frames = []
    for w in waves:
        hs, n, _, _ = model.encode(torch.from_numpy(np.asarray(w, dtype=np.float32))[None], torch.tensor([len(w)]))
        frames.append(hs[0, : int(n[0])])
    frames = torch.cat(frames)
    conv = model.postencoder.conv
    std = frames.std(0)
    conv.weight.div_(std[:, None, None])
    conv.bias.sub_(frames.mean(0)).div_(std)
