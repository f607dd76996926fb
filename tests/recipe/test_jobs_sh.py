"""The recipe's job spreading (egs2/TEMPLATE/bloomzmms1/jobs.sh), in bash alone: local
background jobs (one per GPU of CUDA_VISIBLE_DEVICES, failures named) and a Kaldi-style
launcher (``CMD JOB=1:N LOG command``, as run.pl / slurm.pl take it)."""

import subprocess
from pathlib import Path

JOBS_SH = Path(__file__).resolve().parents[2] / "egs2/TEMPLATE/bloomzmms1/jobs.sh"


def bash(script: str, tmp_path: Path, **env) -> subprocess.CompletedProcess:
    prelude = (f'set -euo pipefail\nlog() {{ echo "LOG $*" >&2; }}\ndie() {{ echo "DIE $*" >&2; exit 1; }}\n'
               f'. {JOBS_SH}\n')
    return subprocess.run(["bash", "-c", prelude + script], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **env}, timeout=60)


def test_local_jobs_get_one_gpu_each_and_their_own_log(tmp_path):
    script = ('ngpu=2; decode_cmd=""\n'
              'run_jobs 3 log.JOB sh -c \'echo "job JOB on ${CUDA_VISIBLE_DEVICES}"\'\n')
    assert bash(script, tmp_path).returncode == 0
    assert [(tmp_path / f"log.{j}").read_text() for j in (1, 2, 3)] == ["job 1 on 0\n", "job 2 on 1\n", "job 3 on 0\n"]
    assert bash(script, tmp_path, CUDA_VISIBLE_DEVICES="4,5").returncode == 0  # the GPUs this job was given
    assert [(tmp_path / f"log.{j}").read_text() for j in (1, 2, 3)] == ["job 1 on 4\n", "job 2 on 5\n", "job 3 on 4\n"]
    cpu = bash('ngpu=0; decode_cmd=""\nrun_jobs 2 cpu.JOB sh -c \'echo "${CUDA_VISIBLE_DEVICES:-none}"\'\n', tmp_path)
    assert cpu.returncode == 0 and (tmp_path / "cpu.2").read_text() == "none\n"


def test_every_failed_local_job_is_named_after_all_have_ended(tmp_path):
    script = ('ngpu=0; decode_cmd=""\n'
              'run_jobs 3 log.JOB sh -c \'[ JOB != 2 ] || exit 3; sleep 0.2; touch done.JOB\'\n')
    result = bash(script, tmp_path)
    assert result.returncode != 0 and "DIE 1 of 3 jobs failed: see log.2" in result.stderr
    assert (tmp_path / "done.1").exists() and (tmp_path / "done.3").exists()  # the others ran to the end


def test_a_kaldi_style_launcher_gets_the_job_range_and_log(tmp_path):
    launcher = tmp_path / "run.pl"
    launcher.write_text('#!/usr/bin/env bash\necho "$@" > launched\n')
    launcher.chmod(0o755)
    result = bash(f'ngpu=4; decode_cmd="{launcher} --gpu 1"\nrun_jobs 5 exp/log.JOB.log my_cmd --x JOB\n', tmp_path)
    assert result.returncode == 0
    assert (tmp_path / "launched").read_text() == "--gpu 1 JOB=1:5 exp/log.JOB.log my_cmd --x JOB\n"
    launcher.write_text("#!/usr/bin/env bash\nexit 1\n")
    failed = bash(f'ngpu=0; decode_cmd="{launcher}"\nrun_jobs 2 log.JOB true\n', tmp_path)
    assert failed.returncode != 0 and "DIE a job failed: see log.*" in failed.stderr
