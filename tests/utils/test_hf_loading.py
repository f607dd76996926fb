"""Reading one tensor (the input embeddings) from a checkpoint's weight files, in each
layout transformers writes: one safetensors file, sharded safetensors, a PyTorch .bin."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

from espnet2_bloomzmms.utils.hf_loading import PretrainedLoadError, load_pretrained, read_input_embeddings


@pytest.fixture(scope="module")
def embeddings(tiny_llm_dir):
    return AutoModelForCausalLM.from_pretrained(tiny_llm_dir).get_input_embeddings().weight.detach()


def copy_without_weights(src, dst):
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "*.index.json"))
    return dst


def test_single_safetensors_file(tiny_llm_dir, embeddings):
    assert torch.equal(read_input_embeddings(str(tiny_llm_dir)), embeddings)


def test_sharded_safetensors_and_pytorch_bin(tiny_llm_dir, embeddings, tmp_path):
    state = load_file(str(tiny_llm_dir / "model.safetensors"))
    key = next(k for k in state if k.endswith("word_embeddings.weight"))
    sharded = copy_without_weights(tiny_llm_dir, tmp_path / "sharded")
    rest = {k: v for k, v in state.items() if k != key}
    save_file({key: state[key]}, str(sharded / "model-00002-of-00002.safetensors"))
    save_file(rest, str(sharded / "model-00001-of-00002.safetensors"))
    weight_map = {k: "model-00001-of-00002.safetensors" for k in rest} | {key: "model-00002-of-00002.safetensors"}
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    assert torch.equal(read_input_embeddings(str(sharded)), embeddings)

    legacy = copy_without_weights(tiny_llm_dir, tmp_path / "bin")
    bloom_names = {k.removeprefix("transformer."): v for k, v in state.items()}  # as bigscience's files name them
    torch.save(bloom_names, legacy / "pytorch_model.bin")
    assert torch.equal(read_input_embeddings(str(legacy)), embeddings)

    empty = copy_without_weights(tiny_llm_dir, tmp_path / "none")
    save_file({"other.weight": torch.zeros(2)}, str(empty / "model.safetensors"))
    with pytest.raises(PretrainedLoadError, match="no input-embedding tensor"):
        read_input_embeddings(str(empty))


@pytest.mark.parametrize("extra", [False, True])
def test_load_report_only_for_weights_not_left_out_on_purpose(tiny_mms_dir, tmp_path, extra, transformers_messages):
    """A ForCTC checkpoint loaded as the bare encoder: its CTC head (``lm_head.``) is left
    out on purpose and not reported; any other unexpected weight still is."""
    from transformers import AutoModel

    src = shutil.copytree(tiny_mms_dir, tmp_path / "mms")
    if extra:
        state = load_file(str(src / "model.safetensors"))
        state["wav2vec2.stray.weight"] = torch.zeros(2)
        save_file(state, str(src / "model.safetensors"), metadata={"format": "pt"})
    load_pretrained(AutoModel.from_pretrained, str(src), "speech encoder", unused=("lm_head.",))
    reported = [m for m in transformers_messages if "LOAD REPORT" in m]
    transformers_messages.clear()
    load_pretrained(AutoModel.from_pretrained, str(src), "speech encoder")  # no prefixes: as transformers does
    unfiltered = [m for m in transformers_messages if "LOAD REPORT" in m]
    assert unfiltered and "lm_head.weight" in unfiltered[0]
    if extra:
        assert reported and "stray.weight" in reported[0]
    else:
        assert not reported
