#!/usr/bin/env python3
"""Format data dirs for training: ``python -m espnet2_bloomzmms.bin.format_data_dir SRC DST``.

See :mod:`espnet2_bloomzmms.data.format`.
"""

import argparse
import logging

from espnet2_bloomzmms.data.format import format_data_dir


def main(cmd=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--sample_rate", type=int, default=16000)
    parser.add_argument("--min_seconds", type=float, default=0.0,
                        help="Drop utterances shorter than this (training and validation sets); 0 keeps all")
    args = parser.parse_args(cmd)
    return format_data_dir(args.src, args.dst, args.sample_rate, round(args.min_seconds * args.sample_rate))


if __name__ == "__main__":
    main()
