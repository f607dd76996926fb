"""Resuming: a training run killed (SIGKILL) in the middle of epoch 3 and started
again with ``--resume true`` has the loss curve and final weights of a run that was
never interrupted (optimizer, scheduler, sampler and random state all come back), also
when only LoRA adapters train and the checkpoint holds no base-LLM weights.

Each run is a forked child calling the training entry point (ESPnet takes ~20 s to
import on a busy machine; forking reuses this process's imports); the child that is to
be killed SIGKILLs itself at a fixed training step, so the test has no timing race.
"""

import multiprocessing
import os
import signal
import sys
import traceback
from pathlib import Path

import pytest
import torch
import yaml
from tiny_model_configs import tiny_model_config
from training_runs import load_training_checkpoint

from espnet2_bloomzmms.model.bloomzmms_model import BloomzMMSModel
from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask

EPOCHS = 3
BATCHES = 3  # 6 utterances, 2 per batch
KILL_AT_STEP = 2 * BATCHES + 2  # epoch 3's second step: one update after the last checkpoint
LORA = {"r": 8, "alpha": 32, "dropout": 0.1, "target_modules": ["query_key_value", "dense_4h_to_h"]}
BASE = ("frontend", "preencoder", "encoder", "postencoder", "lang_ctc")  # frozen in the LoRA-only run


def train_args(config: Path, data: Path, keys: Path, exp: Path, *extra) -> list:
    args = ["--config", str(config), "--output_dir", str(exp), "--ngpu", "0", "--resume", "true", *extra]
    for split in ("train", "valid"):
        args += [f"--{split}_shape_file", str(keys)]
        for spec in ("wav.scp,speech,sound", "text,text,text", "utt2lang,lang,text",
                     "prefix,prefix,text", "postfix,postfix,text"):
            args += [f"--{split}_data_path_and_name_and_type", f"{data}/{spec}"]
    return args


def _train_child(args: list, log: Path, kill_at_step: int, kill_in_save: int = 0) -> None:
    """Child process: the training entry point, output to ``log``; SIGKILLs itself at
    its ``kill_at_step``-th training step when that is > 0, or halfway through writing
    its ``kill_in_save``-th ``checkpoint.pth`` (< 0: just before writing ``<-kill_in_save>epoch.pth``)."""
    sys.stdout = sys.stderr = open(log, "w", buffering=1, encoding="utf-8")
    os.dup2(sys.stderr.fileno(), 2)
    import logging

    logging.root.handlers.clear()  # ESPnet configures logging itself
    if kill_at_step:
        forward, steps = BloomzMMSModel.forward, [0]

        def forward_then_maybe_die(self, *a, **kw):
            if self.training:
                steps[0] += 1
                if steps[0] == kill_at_step:
                    os.kill(os.getpid(), signal.SIGKILL)
            return forward(self, *a, **kw)

        BloomzMMSModel.forward = forward_then_maybe_die
    if kill_in_save:
        import io

        save, saves = torch.save, [0]

        def save_then_maybe_die(obj, f, *a, **kw):
            if kill_in_save < 0 and isinstance(f, (str, os.PathLike)) and f"{-kill_in_save}epoch.pth" in str(f):
                os.kill(os.getpid(), signal.SIGKILL)  # checkpoint.pth is written, <N>epoch.pth is not
            if isinstance(f, (str, os.PathLike)) and "checkpoint.pth" in os.path.basename(f):
                saves[0] += 1
                if saves[0] == kill_in_save:  # the bytes reach the disk, then the job dies
                    buffer = io.BytesIO()
                    save(obj, buffer)
                    with open(f, "wb") as out:
                        out.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
                    os.kill(os.getpid(), signal.SIGKILL)
            return save(obj, f, *a, **kw)

        torch.save = save_then_maybe_die
    try:
        BloomzMMSTask.main(cmd=args)
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)


def start(args: list, log: Path, kill_at_step: int = 0, kill_in_save: int = 0) -> multiprocessing.Process:
    process = multiprocessing.get_context("fork").Process(target=_train_child,
                                                          args=(args, log, kill_at_step, kill_in_save))
    process.start()
    return process


def finish(process: multiprocessing.Process, log: Path) -> str:
    process.join(timeout=300)
    return log.read_text(encoding="utf-8")


def curve(exp: Path) -> list:
    stats = load_training_checkpoint(exp / "checkpoint.pth")["reporter"]["stats"]
    return [(stats[e]["train"]["loss"], stats[e]["valid"]["loss"]) for e in range(1, len(stats) + 1)]


@pytest.fixture
def setup(espeak_data_dir, tiny_mms_dir, tiny_llm_dir, tmp_path):
    def make(**model_conf):
        config = tiny_model_config(tiny_mms_dir, tiny_llm_dir, **model_conf)
        config.update(optim="adam", optim_conf={"lr": 0.003}, scheduler="warmuplr",
                      scheduler_conf={"warmup_steps": 4}, max_epoch=EPOCHS, batch_type="unsorted", batch_size=2,
                      num_workers=0, seed=0, best_model_criterion=[["valid", "loss", "min"]], keep_nbest_models=1,
                      num_att_plot=0, use_matplotlib=False, use_tensorboard=False)  # no plotting time
        path = tmp_path / "train.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        keys = tmp_path / "keys"
        keys.write_text("".join(line.split()[0] + "\n" for line in (espeak_data_dir / "wav.scp").open()))
        return path, keys

    return make


def check_resume_equals_uninterrupted(config, data, keys, tmp_path, *extra):
    exp, reference = tmp_path / "interrupted", tmp_path / "reference"
    runs = [(start(train_args(config, data, keys, d, *extra), tmp_path / f"{d.name}.log", kill), d)
            for d, kill in ((reference, 0), (exp, KILL_AT_STEP))]  # side by side
    logs = [finish(process, tmp_path / f"{d.name}.log") for process, d in runs]
    assert runs[0][0].exitcode == 0, logs[0][-3000:]
    assert runs[1][0].exitcode == -signal.SIGKILL, logs[1][-3000:]
    assert len(curve(exp)) == EPOCHS - 1  # killed inside the last epoch, after epoch 2's checkpoint

    resumed = start(train_args(config, data, keys, exp, *extra), tmp_path / "resumed.log")
    log = finish(resumed, tmp_path / "resumed.log")
    assert resumed.exitcode == 0, log[-3000:]
    assert "The training was resumed using" in log
    assert curve(exp) == curve(reference)
    train_losses = [train for train, _ in curve(reference)]
    assert train_losses == sorted(train_losses, reverse=True) and len(set(train_losses)) == EPOCHS  # it learns
    final, expected = (torch.load(d / f"{EPOCHS}epoch.pth", weights_only=True) for d in (exp, reference))
    assert final.keys() == expected.keys()
    for name in expected:
        assert torch.equal(final[name], expected[name]), name
    return final, load_training_checkpoint(exp / "checkpoint.pth")


def test_killed_run_resumes_to_the_uninterrupted_loss_curve(setup, espeak_data_dir, tmp_path):
    config, keys = setup(ctc_weight=0.5)
    final, _ = check_resume_equals_uninterrupted(config, espeak_data_dir, keys, tmp_path)
    assert any(k.startswith("encoder.") for k in final)


def test_lora_only_run_resumes_too(setup, espeak_data_dir, tmp_path):
    config, keys = setup(ctc_weight=0.0)
    final, checkpoint = check_resume_equals_uninterrupted(
        config, espeak_data_dir, keys, tmp_path,
        "--decoder_conf", f"lora={LORA}", "--freeze_param", *BASE, "--optim_conf", "lr=0.02",
    )
    llm = [k for k in final if k.startswith("decoder.")]
    assert llm and all("lora_" in k for k in llm)  # no base-LLM weights in the checkpoint
    lora_params = sum("lora_" in k for k in llm)
    assert len(checkpoint["optimizers"][0]["state"]) == lora_params  # only the adapters train


def test_a_kill_while_the_checkpoint_is_written_loses_only_that_epoch(setup, espeak_data_dir, tmp_path):
    """SIGKILL halfway through writing epoch 2's checkpoint.pth: epoch 1's stays whole, and
    ``--resume`` redoes epoch 2 to the uninterrupted run's curve and weights."""
    config, keys = setup(ctc_weight=0.5)
    exp, reference = tmp_path / "interrupted", tmp_path / "reference"
    runs = [(start(train_args(config, espeak_data_dir, keys, reference), tmp_path / "reference.log"), reference),
            (start(train_args(config, espeak_data_dir, keys, exp), tmp_path / "interrupted.log", kill_in_save=2), exp)]
    logs = [finish(process, tmp_path / f"{d.name}.log") for process, d in runs]
    assert runs[0][0].exitcode == 0, logs[0][-3000:]
    assert runs[1][0].exitcode == -signal.SIGKILL, logs[1][-3000:]
    assert len(curve(exp)) == 1  # epoch 1's checkpoint, complete
    resumed = start(train_args(config, espeak_data_dir, keys, exp), tmp_path / "resumed.log")
    log = finish(resumed, tmp_path / "resumed.log")
    assert resumed.exitcode == 0, log[-3000:]
    assert curve(exp) == curve(reference)
    final, expected = (torch.load(d / f"{EPOCHS}epoch.pth", weights_only=True) for d in (exp, reference))
    assert all(torch.equal(final[k], expected[k]) for k in expected)
    assert not list(exp.glob(".*.tmp"))


def test_a_truncated_checkpoint_is_named_before_resuming(setup, espeak_data_dir, tmp_path):
    config, keys = setup(ctc_weight=0.5)
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "checkpoint.pth").write_bytes(b"PK\x03\x04" + bytes(100))  # what a kill mid-write leaves
    (exp / "1epoch.pth").write_bytes(b"")
    with pytest.raises(RuntimeError, match=r"checkpoint.pth: truncated or corrupt \(104 bytes.*--init_param "
                       r".*1epoch.pth"):
        BloomzMMSTask.main(cmd=train_args(config, espeak_data_dir, keys, exp))


def test_a_kill_between_the_checkpoint_and_the_epoch_file_is_repaired(setup, espeak_data_dir, tmp_path):
    """Killed after epoch 2's checkpoint.pth, before its 2epoch.pth: the resumed run writes
    2epoch.pth from the checkpoint and ends as the uninterrupted run."""
    config, keys = setup(ctc_weight=0.5)
    exp, reference = tmp_path / "interrupted", tmp_path / "reference"
    runs = [(start(train_args(config, espeak_data_dir, keys, reference), tmp_path / "reference.log"), reference),
            (start(train_args(config, espeak_data_dir, keys, exp), tmp_path / "interrupted.log", kill_in_save=-2), exp)]
    logs = [finish(process, tmp_path / f"{d.name}.log") for process, d in runs]
    assert runs[1][0].exitcode == -signal.SIGKILL, logs[1][-3000:]
    assert len(curve(exp)) == 2 and not (exp / "2epoch.pth").exists()
    resumed = start(train_args(config, espeak_data_dir, keys, exp), tmp_path / "resumed.log")
    log = finish(resumed, tmp_path / "resumed.log")
    assert resumed.exitcode == 0, log[-3000:]
    assert "2epoch.pth is missing" in log
    assert curve(exp) == curve(reference)
    got, expected = (torch.load(d / f"{EPOCHS}epoch.pth", weights_only=True) for d in (exp, reference))
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    assert sorted(p.name for p in exp.glob("*epoch.pth")) == sorted(p.name for p in reference.glob("*epoch.pth"))
