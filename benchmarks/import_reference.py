#!/usr/bin/env python3
"""Time and memory of importing a full-size authors' pack (bin.import_reference_model).

    python benchmarks/import_reference.py --work_dir /tmp/import_bench

Writes a pack of the authors' CE layout at full size with random weights (the fairseq-named
MMS-1B, 48 layers; the 17 x 1024 E-Branchformer; the 4096-wide adaptor; the language CTC
over 140 classes; no decoder.* tensors), then imports it in a child process and prints the
pack size, the wall time, the child's peak resident memory and the output size. The LLM is
BLOOMZ-7b1's architecture (config only, with a small stand-in tokenizer: the import reads no
LLM weights for a pack without a CTC head or embedded instruction). Needs ~20 GB of disk.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_pack(work: Path) -> Path:
    import torch
    import yaml
    from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder
    from transformers import Wav2Vec2Model

    sys.path.insert(0, str(REPO / "tests"))
    from reference_pack import MMS, fairseq_names, pretraining_heads  # the documented layout

    from espnet2_bloomzmms.testing.base_model_configs import base_model_config, write_base_model_config
    from espnet2_bloomzmms.tiny_checkpoints import write_tiny_bloom

    tokenizer_dir = write_tiny_bloom(work / "tokenizer", ["a small stand-in vocabulary for the benchmark"], 300)
    write_base_model_config("bigscience/bloomz-7b1", work / "llm", tokenizer_dir)
    write_base_model_config("facebook/mms-1b-all", work / "mms_config")
    config = base_model_config("facebook/mms-1b")
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in Wav2Vec2Model(config).state_dict().items()}
    state = {MMS + theirs: torch.randn(shapes[ours]) * 0.02 for theirs, ours in fairseq_names(48).items()}
    state.update({MMS + k: torch.randn(s) for k, s in pretraining_heads(1280, 768).items()})
    paper = yaml.safe_load((REPO / "egs2/fleurs/bloomzmms1/conf/train_ce.yaml").read_text())
    encoder = EBranchformerEncoder(input_size=128, **paper["encoder_conf"])
    state.update({f"encoder.{k}": v for k, v in encoder.state_dict().items()})
    state.update({
        "frontend.featurizer.weights": torch.zeros(49),
        "preencoder.linear_out.weight": torch.randn(128, 1280), "preencoder.linear_out.bias": torch.zeros(128),
        "encoder.conditioning_layer.weight": torch.randn(1024, 140), "encoder.conditioning_layer.bias": torch.zeros(1024),
        "lid_ctc.length_adaptor.0.weight": torch.randn(1024, 1024, 2), "lid_ctc.length_adaptor.0.bias": torch.zeros(1024),
        "lid_ctc.ctc_lo.weight": torch.randn(140, 1024), "lid_ctc.ctc_lo.bias": torch.zeros(140),
        "postencoder.length_adaptor.0.weight": torch.randn(1024, 1024, 2),
        "postencoder.length_adaptor.0.bias": torch.zeros(1024),
        "postencoder.linear_in.weight": torch.randn(4096, 1024), "postencoder.linear_in.bias": torch.zeros(4096),
    })
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    exp = "exp/asr_ce"
    (work / "pack" / exp).mkdir(parents=True, exist_ok=True)
    ref = {
        "token_type": "hugging_face", "bpemodel": "bigscience/bloomz-7b1",
        "token_list": tok.convert_ids_to_tokens(list(range(len(tok)))),
        "frontend": "s3prl", "frontend_conf": {"frontend_conf": {"upstream": "wav2vec2_custom"}, "multilayer_feature": True},
        "normalize": "utterance_mvn", "preencoder": "linear", "preencoder_conf": {"input_size": 1280, "output_size": 128},
        "encoder": "e_branchformer", "encoder_conf": paper["encoder_conf"],
        "postencoder": "hugging_face_transformers",
        "postencoder_conf": {"model_name_or_path": "dummy", "length_adaptor_n_layers": 1, "output_size": 4096},
        "decoder": "hugging_face_transformers",
        "decoder_conf": {"model_name_or_path": "bigscience/bloomz-7b1", "load_in_8bit": True, "causal_lm": True,
                         "prefix": "Repeat the sentence: ", "postfix": ". "},
        "model_conf": {"ctc_weight": 0.0, "interctc_weight": 0.0, "aux_ctc": {"3": "utt2lid_token"}},
    }
    (work / "pack" / exp / "config.yaml").write_text(yaml.safe_dump(ref))
    torch.save(state, work / "pack" / exp / "valid.acc.ave_3best.pth")
    (work / "pack/meta.yaml").write_text(yaml.safe_dump({
        "espnet": "202304", "files": {"asr_model_file": f"{exp}/valid.acc.ave_3best.pth"},
        "yaml_files": {"asr_train_config": f"{exp}/config.yaml"}}))
    return work / "pack"


def size(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work_dir", type=Path, required=True)
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    pack = args.work_dir / "pack"
    if not (pack / "meta.yaml").is_file():
        start = time.time()
        write_pack(args.work_dir)
        print(f"wrote the full-size pack in {time.time() - start:.0f} s")
    start = time.time()
    out = args.work_dir / "imported"
    subprocess.run([sys.executable, "-m", "espnet2_bloomzmms.bin.import_reference_model", "--pack", str(pack),
                    "--output_dir", str(out), "--llm", str(args.work_dir / "llm"),
                    "--mms_config", str(args.work_dir / "mms_config"), "--llm_quantization", "none"],
                   check=True, stdout=subprocess.DEVNULL)
    seconds = time.time() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6  # kB -> GB (Linux)
    print(json.dumps({"pack_GB": round(size(pack), 2), "import_s": round(seconds, 1), "peak_rss_GB": round(peak, 2),
                      "output_GB": round(size(out), 2)}, indent=2))


if __name__ == "__main__":
    main()
