"""Speed-perturb a Kaldi-style data directory (Kaldi's perturb_data_dir_speed.sh).

Example::

    python -m espnet2_bloomzmms.bin.speed_perturb --src data/train --output_dir data/train_sp \\
        --factors 0.9 1.0 1.1 --nj 4

Utterances become ``sp0.9-<uttid>`` (speakers ``sp0.9-<spk>``); factor 1.0 keeps the
original ids and audio.  Perturbed audio is written to ``--audio_dir`` (default
``<dst>/wavs``); a re-run keeps the audio files already written.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from espnet2_bloomzmms.data.datadir import DataDirError
from espnet2_bloomzmms.data.speed_perturb import perturb_data_dir


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Write a speed-perturbed copy of a data directory (sox 'speed' "
        "semantics: duration / factor, pitch shifted), with Kaldi's sp<factor>- ids."
    )
    parser.add_argument("--src", type=Path, required=True, help="source data dir")
    parser.add_argument("--output_dir", type=Path, required=True, help="output data dir")
    parser.add_argument(
        "--factors", type=float, nargs="+", default=[0.9, 1.0, 1.1], help="speed factors"
    )
    parser.add_argument(
        "--audio_dir", type=Path, default=None, help="where perturbed WAVs go (default <dst>/wavs)"
    )
    parser.add_argument("--nj", type=int, default=1, help="number of worker processes")
    return parser


def main(cmd: list[str] | None = None) -> int:
    parser = get_parser()
    args = parser.parse_args(cmd)
    if args.nj < 1:
        parser.error(f"--nj must be >= 1, got {args.nj}")
    if any(f <= 0 for f in args.factors):
        parser.error(f"--factors must be positive, got {args.factors}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        n = perturb_data_dir(
            args.src, args.output_dir, factors=args.factors, audio_dir=args.audio_dir,
            num_workers=args.nj,
        )
    except (DataDirError, ValueError) as e:
        parser.error(str(e))
    print(f"{args.output_dir}: {n} utterances")
    return n


if __name__ == "__main__":
    main()
