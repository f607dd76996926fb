"""What a first multi-GPU run at paper scale meets, through the real training entry
point (``espnet2_bloomzmms.bin.train``) on the tiny checkpoints: DDP with layer drop,
ESPnet's float32 cast of the whole model, gradient checkpointing of a frozen LLM."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from tiny_model_configs import tiny_model_config
from training_runs import data_options, shape_options, train_in_process


def write_config(tmp_path: Path, config: dict, **options) -> Path:
    config.update(optim="adam", optim_conf={"lr": 0.001}, batch_type="unsorted", batch_size=2,
                  num_workers=0, seed=0, best_model_criterion=[["valid", "loss", "min"]],
                  keep_nbest_models=1, max_epoch=1, num_att_plot=0, **options)
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_with_layer_drop_trains_and_ranks_agree(espeak_data_dir, tiny_mms_dir, tiny_llm_dir, tmp_path):
    """Layer drop leaves the dropped blocks without gradient; with ESPnet's default
    ``unused_parameters: false`` DDP stops at the second update. The task turns it on."""
    config = tiny_model_config(tiny_mms_dir, tiny_llm_dir, ctc_weight=0.5)
    config["encoder_conf"]["layer_drop_rate"] = 0.5  # 3 blocks: most steps drop one
    config_file = write_config(tmp_path, config)
    port = free_port()
    runner = Path(__file__).with_name("train_one_rank.py")
    procs = []
    for rank in range(2):
        cmd = [sys.executable, str(runner), str(tmp_path / f"rank{rank}.pth"),
               "--config", str(config_file), "--output_dir", str(tmp_path / "exp"), "--ngpu", "0",
               "--multiprocessing_distributed", "false", "--dist_backend", "gloo",
               "--dist_init_method", f"tcp://127.0.0.1:{port}", "--dist_world_size", "2",
               "--dist_rank", str(rank), "--max_epoch", "2",
               *shape_options(espeak_data_dir, tmp_path), *data_options(espeak_data_dir)]
        log = open(tmp_path / f"rank{rank}.log", "w")
        procs.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path), log))
    for proc, log in procs:
        proc.wait(timeout=600)
        log.close()
    logs = [(tmp_path / f"rank{r}.log").read_text() for r in range(2)]
    for (proc, _), text in zip(procs, logs):
        assert proc.returncode == 0, text[-3000:]
    assert "unused_parameters" in logs[0]  # the task said why it turned it on
    ranks = [torch.load(tmp_path / f"rank{r}.pth", weights_only=True) for r in range(2)]
    assert [r["rank"] for r in ranks] == [0, 1]
    assert ranks[0]["updates"] == ranks[1]["updates"] == 6  # 6 utterances, 2 per batch, 2 epochs
    assert ranks[0]["state"].keys() == ranks[1]["state"].keys()
    for name, value in ranks[0]["state"].items():
        torch.testing.assert_close(value, ranks[1]["state"][name], rtol=0, atol=0, msg=name)


def test_frozen_parts_keep_their_configured_dtype(espeak_data_dir, tiny_mms_dir, tiny_llm_dir, tmp_path, monkeypatch):
    """ESPnet casts the whole model to ``train_dtype`` (float32); the frozen MMS and LLM
    stay in the bfloat16 their configs ask for, trainable layers become float32."""
    config = tiny_model_config(tiny_mms_dir, tiny_llm_dir, ctc_weight=0.5)
    config["frontend_conf"]["dtype"] = "bfloat16"
    config["decoder_conf"]["dtype"] = "bfloat16"
    config_file = write_config(tmp_path, config)
    seen = {}

    def record(model):
        seen["mms"] = {p.dtype for p in model.frontend.encoder.parameters()}
        seen["llm"] = {p.dtype for p in model.decoder.llm.parameters()}
        seen["trained"] = {p.dtype for p in model.parameters() if p.requires_grad}

    train_in_process(["--config", str(config_file), "--output_dir", str(tmp_path / "exp"), "--ngpu", "0",
                      *shape_options(espeak_data_dir, tmp_path), *data_options(espeak_data_dir)],
                     monkeypatch, record)
    assert seen == {"mms": {torch.bfloat16}, "llm": {torch.bfloat16}, "trained": {torch.float32}}
    assert (tmp_path / "exp" / "valid.loss.best.pth").exists()  # and it trained


@pytest.mark.parametrize("checkpointing", [False, True])
def test_frozen_llm_layers_recompute_under_gradient_checkpointing(
        espeak_data_dir, tiny_mms_dir, tiny_llm_dir, tmp_path, monkeypatch, checkpointing):
    """A frozen LLM runs in eval mode; with ``gradient_checkpointing`` its layers still
    recompute in backward (each attention runs twice per training step), without it once."""
    config = tiny_model_config(tiny_mms_dir, tiny_llm_dir, ctc_weight=0.0)
    config["decoder_conf"]["gradient_checkpointing"] = checkpointing
    config["decoder_conf"]["dtype"] = "float32"
    config_file = write_config(tmp_path, config)
    calls = {"attention": 0, "steps": 0}

    def count(model):
        assert not model.decoder.llm.transformer.h[0].self_attention.training  # no dropout
        block = model.decoder.llm.transformer.h[0]

        def attention_ran(module, args, output):
            if torch.is_grad_enabled():
                calls["attention"] += 1

        def step(module, args):
            if module.training:
                calls["steps"] += 1

        block.self_attention.register_forward_hook(attention_ran)
        model.register_forward_pre_hook(step)

    train_in_process(["--config", str(config_file), "--output_dir", str(tmp_path / "exp"), "--ngpu", "0",
                      *shape_options(espeak_data_dir, tmp_path), *data_options(espeak_data_dir)],
                     monkeypatch, count)
    assert calls["steps"] == 3
    assert calls["attention"] == (2 if checkpointing else 1) * calls["steps"]
