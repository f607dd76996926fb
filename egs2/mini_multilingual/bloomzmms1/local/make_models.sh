#!/usr/bin/env bash
# Stage 3 of the mini recipe: the base models, as a download gives them.
#  - default: local/base_models/{mms,llm} (shipped in the repository, see its MODEL_CARD.md)
#    are checked against the sha256 sums of local/base_models/build.json and copied;
#  - --rebuild true: they are built again by local/base_models.py build (the script that
#    made the shipped ones; ~1.5 h on 2 cores; --quick true: a smoke build of a few steps).
# A --mms / --llm that is not a path under exp/ (a hub name, an existing dir) is used as
# it is and nothing is written for it. A finished copy or build is kept (the stage
# resumes); a different model already in exp/models is refused, not overwritten.
set -euo pipefail
mms=exp/models/mms; llm=exp/models/llm; rebuild=false; quick=false
while [ $# -gt 0 ]; do
    case $1 in
        --mms) mms=$2 ;; --llm) llm=$2 ;; --rebuild) rebuild=$2 ;; --quick) quick=$2 ;;
        *) echo "local/make_models.sh: unknown option $1" >&2; exit 1 ;;
    esac
    shift 2
done
targets=()
[[ "${mms}" == exp/* ]] && targets+=(--mms_dst "${mms}")
[[ "${llm}" == exp/* ]] && targets+=(--llm_dst "${llm}")
[ ${#targets[@]} -gt 0 ] || { echo "base models ${mms} and ${llm} are used as they are"; exit 0; }
if [ "${rebuild}" = true ]; then
    out=exp/models/base_build$([ "${quick}" = true ] && echo _quick)
    [ -e "${out}/build.json" ] || python3 local/base_models.py build --output_dir "${out}" \
        $([ "${quick}" = true ] && echo --quick)
    python3 local/base_models.py copy --src "${out}" "${targets[@]}"
else
    python3 local/base_models.py copy --src local/base_models "${targets[@]}"
fi
