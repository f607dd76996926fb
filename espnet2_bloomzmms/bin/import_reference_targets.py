#!/usr/bin/env python3
"""Our T / MI / TMI training dirs from the authors' multi-instruction targets (Zenodo
record 10900287), instead of generating the MI answers with BLOOMZ-7b1 (GPU-days):

    tar xzf tmi_training_targets.tar.gz -C downloads/tmi_targets
    python -m espnet2_bloomzmms.bin.import_reference_targets --targets downloads/tmi_targets \\
        --train_dir dump/raw/train_sp --dst_prefix dump/raw/train_sp

writes dump/raw/train_sp_{T,MI,TMI} (the recipe's stage 4 does this with
``--mi_targets_from DIR``). The ids are matched to ours and the counts printed: see
:mod:`espnet2_bloomzmms.reference.targets`.
"""

import argparse
import json
import logging
from pathlib import Path

from espnet2_bloomzmms.reference.targets import TargetsError, import_reference_targets
from espnet2_bloomzmms.utils.hf_loading import load_tokenizer


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=Path, required=True,
                        help="the extracted archive (text, decoder_prefix, decoder_postfix) or the .tar.gz")
    parser.add_argument("--train_dir", type=Path, required=True, help="our training data dir (dump/raw/train_sp)")
    parser.add_argument("--dst_prefix", required=True, help="writes <prefix>_T, <prefix>_MI, <prefix>_TMI")
    parser.add_argument("--llm", default="bigscience/bloomz-7b1", help="whose tokenizer made the ids")
    parser.add_argument("--variants", nargs="+", default=["T", "MI", "TMI"], choices=["T", "MI", "TMI"])
    return parser


def main(cmd=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args = get_parser().parse_args(cmd)
    try:
        counts = import_reference_targets(args.targets, args.train_dir, args.dst_prefix, load_tokenizer(args.llm),
                                          tuple(args.variants))
    except TargetsError as e:
        raise SystemExit(f"import_reference_targets: {e}") from e
    print(json.dumps(counts.as_dict(), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
