"""Write tiny random-weight MMS / BLOOM checkpoints in Hugging Face format.

Example::

    python -m espnet2_bloomzmms.bin.make_tiny_checkpoints \\
        --mms_dir exp/tiny_mms --llm_dir exp/tiny_bloom --text data/train/text_llm
"""

import argparse
import logging
from pathlib import Path

from espnet2_bloomzmms.tiny_checkpoints import write_tiny_bloom, write_tiny_mms


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Write tiny random-weight MMS (wav2vec2) and BLOOM checkpoints "
        "loadable with transformers' from_pretrained."
    )
    parser.add_argument("--mms_dir", type=Path, help="output dir of the speech encoder")
    parser.add_argument("--llm_dir", type=Path, help="output dir of the LLM + tokenizer")
    parser.add_argument(
        "--text",
        type=Path,
        nargs="+",
        default=[],
        help="text file(s), one sentence a line, to train the LLM's BPE tokenizer on",
    )
    parser.add_argument("--vocab_size", type=int, default=1000, help="BPE vocab size")
    parser.add_argument(
        "--tokenizer",
        choices=["byte_bpe", "char_bpe"],
        default="byte_bpe",
        help="BPE over bytes (BLOOM's) or over characters with byte fallback (a small "
        "vocabulary that still spells every script with whole characters)",
    )
    parser.add_argument("--hidden_size", type=int, default=32, help="of both models")
    parser.add_argument("--num_layers", type=int, default=2, help="of both models")
    parser.add_argument("--conv_dim", type=int, default=32, help="channels of the MMS feature encoder's convolutions")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def _read_texts(parser: argparse.ArgumentParser, paths: list[Path]) -> list[str]:
    texts = []
    for path in paths:
        if not path.is_file():
            parser.error(f"--text: file is missing: {path}")
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not lines:
            parser.error(f"--text: file is empty: {path}")
        texts += lines
    return texts


def main(cmd: list[str] | None = None) -> None:
    parser = get_parser()
    args = parser.parse_args(cmd)
    if args.mms_dir is None and args.llm_dir is None:
        parser.error("give --mms_dir and/or --llm_dir")
    if args.llm_dir is not None and not args.text:
        parser.error("--llm_dir needs --text to train the tokenizer on")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")

    if args.llm_dir is not None:
        texts = _read_texts(parser, args.text)
        out = write_tiny_bloom(
            args.llm_dir,
            texts,
            vocab_size=args.vocab_size,
            hidden_size=args.hidden_size,
            n_layer=args.num_layers,
            seed=args.seed,
            byte_level=args.tokenizer == "byte_bpe",
        )
        logging.info(f"wrote tiny BLOOM to {out}")
    if args.mms_dir is not None:
        out = write_tiny_mms(
            args.mms_dir,
            hidden_size=args.hidden_size,
            num_hidden_layers=args.num_layers,
            intermediate_size=2 * args.hidden_size,
            conv_dim=args.conv_dim,
            seed=args.seed,
        )
        logging.info(f"wrote tiny MMS to {out}")


if __name__ == "__main__":
    main()
