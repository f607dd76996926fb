#!/usr/bin/env python3
"""Upload a packed model to the Hugging Face hub, with a model card.

    python -m espnet2_bloomzmms.bin.upload --model exp/packed/bloomzmms_ce_TMI.zip --repo_id owner/bloomzmms-fleurs

``--model`` is a packed ``.zip`` (``bin/pack.py``) or an experiment directory (packed on
the fly, with ``--results`` as RESULTS.md). The repo is created when missing. The token
comes from ``--token``, ``HF_TOKEN`` or ``hf auth login``; ``--endpoint`` (or
``HF_ENDPOINT``) names another hub. Users then decode with
``BloomzMMS.from_pretrained("owner/bloomzmms-fleurs")`` or
``python -m espnet2_bloomzmms.bin.inference --model_dir owner/bloomzmms-fleurs ...``.
See :mod:`espnet2_bloomzmms.hub` for what the repo holds.
"""

import argparse
import logging
import sys

from espnet2.utils.types import str2bool, str_or_none

from espnet2_bloomzmms.hub import upload_model


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="Packed .zip model or experiment directory")
    parser.add_argument("--repo_id", required=True, help="owner/name of the model repo")
    parser.add_argument("--results", type=str_or_none, default=None,
                        help="RESULTS.md to pack when --model is an experiment directory")
    parser.add_argument("--private", type=str2bool, default=False, help="Create the repo private")
    parser.add_argument("--license", type=str_or_none, default=None, help="License id for the model card (apache-2.0, ...)")
    parser.add_argument("--commit_message", type=str_or_none, default=None)
    parser.add_argument("--token", type=str_or_none, default=None, help="Default: HF_TOKEN or the stored login")
    parser.add_argument("--endpoint", type=str_or_none, default=None, help="Default: HF_ENDPOINT or huggingface.co")
    return parser


def main(cmd=None):
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    url = upload_model(
        args.model, args.repo_id, results=args.results, private=args.private, license=args.license,
        commit_message=args.commit_message, token=args.token, endpoint=args.endpoint,
    )
    print(url)


if __name__ == "__main__":
    main(sys.argv[1:])
