# How training processes are started (run.sh passes these to bloomzmms.sh).
# One node: leave empty; --ngpu N starts one process per GPU (DDP) by itself.
# Several nodes: a prefix that starts one process per node, which then spawns one per
# GPU, plus how those processes learn their rank, e.g. with Slurm
#   train_launcher="srun --nodes 2 --ntasks-per-node 1 --gres gpu:4 --export=ALL"
#   dist_launcher=slurm
# or with MPI: train_launcher="mpirun -np 2" and dist_launcher=mpi.
# (run.sh --num_nodes 2 --ngpu 4 then trains on 8 GPUs.)
train_launcher=${train_launcher:-}
dist_launcher=${dist_launcher:-}

# How decoding jobs start (stages 7 and 12 with --decode_nj N: each decode dir is split
# into N jobs and merged; stage 4 with --mi_nj N: the MI answers in N jobs). Kaldi's
# launcher interface, "CMD JOB=1:N LOGFILE command", as
# ESPnet's utils/run.pl (local), slurm.pl and queue.pl implement it. They are not in the
# espnet pip package: take them from an ESPnet checkout, e.g.
#   decode_cmd="${ESPNET_ROOT}/egs2/TEMPLATE/asr1/utils/slurm.pl --gpu 1"   # one GPU per job
# (slurm.pl reads conf/slurm.conf; see ESPnet's egs2/TEMPLATE/asr1/conf/). Empty: the jobs
# run here in the background, job J on GPU (J-1) % ngpu (./run.sh --decode_nj 4 on 4 GPUs).
decode_cmd=${decode_cmd:-}
