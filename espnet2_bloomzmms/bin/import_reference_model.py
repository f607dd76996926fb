#!/usr/bin/env python3
"""Import one of the authors' released models (an ESPnet v.202304 pack) as an experiment
directory of ours, which decodes, scores, packs and uploads like a model trained here.

    huggingface-cli download akreal/bloomzmms-ce-tmi --local-dir downloads/bloomzmms-ce-tmi
    python -m espnet2_bloomzmms.bin.import_reference_model \\
        --pack downloads/bloomzmms-ce-tmi --output_dir exp/authors_ce_tmi
    python -m espnet2_bloomzmms.bin.inference --model_dir exp/authors_ce_tmi --data_dir dump/raw/test_T ...

BLOOMZ-7b1 is reloaded by name (``--llm``, a local copy works), in 8 bit as the authors
decoded (``--llm_quantization none --llm_dtype float16`` for 16 bit; the CTC model, which
needs only its width and tokenizer, in 16 bit). See
:mod:`espnet2_bloomzmms.reference.model_import` for where each tensor goes.
"""

import argparse
import json
import logging
from pathlib import Path

from espnet2_bloomzmms.reference.model_import import DEFAULT_MMS_CONFIG, import_reference_model


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", type=Path, required=True, help="the downloaded hub repo (meta.yaml, exp/...)")
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--llm", default=None, help="the LLM to reload (default: the pack's, bigscience/bloomz-7b1)")
    parser.add_argument("--llm_dtype", default="float16", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--llm_quantization", default="auto", choices=["auto", "8bit", "4bit", "none"],
                        help="auto: 8bit as the authors (CUDA + bitsandbytes) where the model answers with the "
                        "LLM, none for the CTC model; none: --llm_dtype alone")
    parser.add_argument("--mms_config", default=DEFAULT_MMS_CONFIG,
                        help="the architecture (config.json) of the MMS inside the pack")
    parser.add_argument("--lang_list", type=Path, default=None,
                        help="names of the language classes in the authors' order (one per line); default lid1..")
    parser.add_argument("--allow_unused", action="store_true", help="go on when tensors of the pack have no place")
    return parser


def main(cmd=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = get_parser().parse_args(cmd)
    try:
        result = import_reference_model(
            args.pack, args.output_dir, llm=args.llm, mms_config=args.mms_config, llm_dtype=args.llm_dtype,
            llm_quantization=None if args.llm_quantization == "none" else args.llm_quantization,
            lang_list=args.lang_list, allow_unused=args.allow_unused,
        )
    except (ValueError, OSError) as e:  # a pack that differs, an LLM or MMS config that cannot be had
        raise SystemExit(f"import_reference_model: {e}") from e
    print(json.dumps(result.summary, indent=2, ensure_ascii=False))
    print(f"wrote {result.output_dir}")


if __name__ == "__main__":
    main()
