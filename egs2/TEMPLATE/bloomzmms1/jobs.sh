# Functions of bloomzmms.sh that spread work over jobs (sourced by it; they use its
# variables: python, ngpu, decode_nj, decode_cmd, infer, and its log and die).
#
#   run_jobs NJ LOG CMD...     NJ jobs of CMD at once, "JOB" in LOG and CMD becoming 1..NJ:
#                              through ${decode_cmd} (Kaldi's launcher interface: ESPnet's
#                              utils/run.pl, slurm.pl, queue.pl) or as local background jobs,
#                              job J on the (J-1) % ngpu-th GPU of CUDA_VISIBLE_DEVICES
#   decode DATA OUT ARGS...    bin.inference (${infer[@]} ARGS) on DATA into OUT, in
#                              ${decode_nj} jobs merged into OUT (bin.decode_jobs)

run_jobs() {
    local nj=$1 log=$2; shift 2
    if [ -n "${decode_cmd}" ]; then  # Kaldi's launcher interface (run.pl, slurm.pl, queue.pl)
        ${decode_cmd} JOB=1:"${nj}" "${log}" "$@" || die "a job failed: see ${log//JOB/*} (rerun: they continue where they stopped)"
        return
    fi
    local j failed=() pids=() gpus=()
    # local background jobs, job J on the (J-1) % ngpu-th GPU of CUDA_VISIBLE_DEVICES (default 0..ngpu-1)
    IFS=, read -ra gpus <<< "${CUDA_VISIBLE_DEVICES:-$(seq -s, 0 $((ngpu > 0 ? ngpu - 1 : 0)))}"
    for j in $(seq "${nj}"); do
        ( [ "${ngpu}" -gt 0 ] && export CUDA_VISIBLE_DEVICES=${gpus[$(( (j - 1) % ngpu % ${#gpus[@]} ))]}
          exec "${@//JOB/${j}}" ) > "${log//JOB/${j}}" 2>&1 &
        pids+=($!)
    done
    for j in "${!pids[@]}"; do wait "${pids[$j]}" || failed+=("${log//JOB/$((j + 1))}"); done
    [ ${#failed[@]} -eq 0 ] || die "${#failed[@]} of ${nj} jobs failed: see ${failed[*]} (rerun: they continue where they stopped)"
}
decode() {
    local data=$1 out=$2; shift 2
    if [ "${decode_nj}" -le 1 ]; then
        "${infer[@]}" --data_dir "${data}" --output_dir "${out}" "$@"
        return
    fi
    local split=${out}/split${decode_nj} nj
    "${python}" -m espnet2_bloomzmms.bin.decode_jobs split --data_dir "${data}" --nj "${decode_nj}" --output_dir "${split}" >/dev/null
    nj=$(ls "${split}"/keys.* | wc -l)  # fewer when the set has fewer utterances
    log "decoding ${data} in ${nj} jobs (logs: ${split}/decode.*.log)"
    run_jobs "${nj}" "${split}/decode.JOB.log" "${infer[@]}" --data_dir "${data}" --key_file "${split}/keys.JOB" \
        --output_dir "${split}/output.JOB" "$@"
    "${python}" -m espnet2_bloomzmms.bin.decode_jobs merge --data_dir "${data}" --output_dir "${out}" \
        $(for j in $(seq "${nj}"); do echo "${split}/output.${j}"; done)
}
