#!/usr/bin/env python3
"""Pack a trained model into one archive.

    python -m espnet2_bloomzmms.bin.pack --model_dir exp/ce_TMI --results RESULTS.md --output exp/packed/model.zip

See :mod:`espnet2_bloomzmms.model_archive` for what goes in.
"""

import argparse

from espnet2_bloomzmms.model_archive import pack_model


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--model_file", default=None, help="default: the best checkpoint in --model_dir")
    parser.add_argument("--results", default=None)
    parser.add_argument("--output", required=True)
    args = parser.parse_args(cmd)
    print(pack_model(args.model_dir, args.output, args.results, args.model_file))


if __name__ == "__main__":
    main()
