"""One rank of a distributed test run: ``python train_one_rank.py WEIGHTS ARGS...`` runs
``espnet2_bloomzmms.bin.train ARGS...`` and then saves this rank's trained weights and
its number of optimizer updates to ``WEIGHTS`` (ESPnet saves checkpoints on rank 0
only, and a rank that fell out of step would not show in them)."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: training_runs
from training_runs import observing_trainer  # noqa: E402

from espnet2_bloomzmms.bin import train  # noqa: E402
from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask  # noqa: E402


def main() -> None:
    weights, cmd = sys.argv[1], sys.argv[2:]

    def save(model, optimizers):
        updates = max(int(s["step"]) for s in optimizers[0].state_dict()["state"].values())
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        torch.save({"state": state, "updates": updates, "rank": torch.distributed.get_rank()}, weights)

    BloomzMMSTask.trainer = observing_trainer(after=save)
    train.main(cmd)


if __name__ == "__main__":
    main()
