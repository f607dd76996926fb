"""One rank of a distributed test run: ``python train_one_rank.py WEIGHTS ARGS...`` runs
``espnet2_bloomzmms.bin.train ARGS...`` and then saves this rank's trained weights and
its number of optimizer updates to ``WEIGHTS`` (ESPnet saves checkpoints on rank 0
only, and a rank that fell out of step would not show in them)."""

import sys

import torch

from espnet2_bloomzmms.bin import train
from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask


def main() -> None:
    weights, cmd = sys.argv[1], sys.argv[2:]
    trainer = BloomzMMSTask.trainer

    class SavingWeights(trainer):
        @classmethod
        def run(cls, model, optimizers, *args, **kwargs):
            super().run(model, optimizers, *args, **kwargs)
            updates = max(int(s["step"]) for s in optimizers[0].state_dict()["state"].values())
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            torch.save({"state": state, "updates": updates, "rank": torch.distributed.get_rank()}, weights)

    BloomzMMSTask.trainer = SavingWeights
    train.main(cmd)


if __name__ == "__main__":
    main()
