#!/usr/bin/env bash
# Stage 1 of the mini recipe: speech for every sentence, by espeak-ng, into data/.
#   local/data.sh [--langs en,de,fr,es,sw,hi,ru] [--max_train N] [--renditions 1] [--n_dev 20] [--n_test 20]
set -euo pipefail
command -v espeak-ng >/dev/null || { echo "espeak-ng is not installed: apt-get install espeak-ng" >&2; exit 1; }
langs=en,de,fr,es,sw,hi,ru; max_train=0; renditions=1; n_dev=20; n_test=20; nj=2
while [ $# -gt 0 ]; do
    case $1 in
        --langs) langs=$2 ;; --max_train) max_train=$2 ;; --renditions) renditions=$2 ;; --n_dev) n_dev=$2 ;; --n_test) n_test=$2 ;; --nj) nj=$2 ;;
        *) echo "local/data.sh: unknown option $1" >&2; exit 1 ;;
    esac
    shift 2
done
python3 local/prepare_data.py --text_dir local/data --output_dir data --langs ${langs//,/ } \
    --max_train "${max_train}" --renditions "${renditions}" --n_dev "${n_dev}" --n_test "${n_test}" --nj "${nj}"
