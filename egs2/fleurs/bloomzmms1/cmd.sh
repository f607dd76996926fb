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
