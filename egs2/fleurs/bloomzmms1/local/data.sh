#!/usr/bin/env bash
# Stage 1 of the FLEURS recipe: Kaldi data dirs from the corpora as released on disk
# (layouts: espnet2_bloomzmms/data/corpora/<corpus>.py), every language mapped to one
# id across corpora (local/languages.py):
#   data/train            FLEURS train [+ Common Voice train (subset)] [+ VoxPopuli train]
#   data/dev              FLEURS dev
#   data/test_fleurs      FLEURS test          data/test_voxpopuli, data/test_mls (if given)
#   data/languages.tsv    language id <TAB> English name, for the instruction templates
#
#   local/data.sh --fleurs DIR [--commonvoice DIR [--cv_subset FILE] [--cv_langs "de fr"]] \
#       [--voxpopuli DIR] [--mls DIR] [--langs "en_us de_de"] [--extra "DIR LANG ..."] [--nj 8]
#
# --langs limits FLEURS to some of its codes; --extra adds data dirs prepared by other
# ESPnet/Kaldi recipes to training (pairs of dir and language id). A finished corpus
# split is not prepared again (delete data/local/done/<name> to redo it).
set -euo pipefail
log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (data.sh) $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

fleurs=""; commonvoice=""; cv_subset=""; cv_langs=""; voxpopuli=""; mls=""; langs=""; extra=""; nj=8
voxpopuli_langs="cs de en es et fi fr hr hu it lt nl pl ro sk sl"  # the paper's VoxPopuli languages
mls_langs="de en es fr it nl pl pt"
while [ $# -gt 0 ]; do
    case $1 in
        --fleurs) fleurs=$2 ;; --commonvoice) commonvoice=$2 ;; --cv_subset) cv_subset=$2 ;;
        --cv_langs) cv_langs=$2 ;; --voxpopuli) voxpopuli=$2 ;; --mls) mls=$2 ;; --langs) langs=$2 ;;
        --extra) extra=$2 ;; --nj) nj=$2 ;;
        *) die "unknown option $1 (see the header of $0)" ;;
    esac
    shift 2
done
[ -n "${fleurs}" ] || die "--fleurs DIR is required (the google/fleurs repository on disk; set FLEURS in db.sh)"

prep=(python3 -m espnet2_bloomzmms.bin.prepare_corpus)
mkdir -p data/local/done
prepare() {  # prepare NAME CORPUS OPTIONS...: one corpus split into data/NAME, once
    local name=$1 corpus=$2; shift 2
    if [ -e "data/local/done/${name}" ]; then
        log "data/${name}: already prepared"
        return
    fi
    log "data/${name}: ${corpus} $*"
    "${prep[@]}" "${corpus}" --out "data/${name}" --nj "${nj}" "$@"
    touch "data/local/done/${name}"
}

python3 local/languages.py fleurs_map data/local/lang_map_fleurs.tsv
fleurs_opts=(--root "${fleurs}" --lang_map data/local/lang_map_fleurs.tsv)
[ -z "${langs}" ] || fleurs_opts+=(--langs ${langs})
prepare fleurs_train fleurs --split train "${fleurs_opts[@]}"
prepare dev fleurs --split dev "${fleurs_opts[@]}"
prepare test_fleurs fleurs --split test "${fleurs_opts[@]}"
train_dirs=(--dir data/fleurs_train)
test_dirs=(data/test_fleurs)

if [ -n "${commonvoice}" ]; then
    cv_opts=(--root "${commonvoice}" --lang_map local/data/lang_map_commonvoice.tsv)
    [ -z "${cv_subset}" ] || cv_opts+=(--subset "${cv_subset}")
    [ -z "${cv_langs}" ] || cv_opts+=(--langs ${cv_langs})
    prepare cv_train commonvoice --split train "${cv_opts[@]}"
    train_dirs+=(--dir data/cv_train)
fi
if [ -n "${voxpopuli}" ]; then
    prepare voxpopuli_train voxpopuli --root "${voxpopuli}" --split train --langs ${voxpopuli_langs}
    prepare test_voxpopuli voxpopuli --root "${voxpopuli}" --split test --langs ${voxpopuli_langs}
    train_dirs+=(--dir data/voxpopuli_train)
    test_dirs+=(data/test_voxpopuli)
fi
if [ -n "${mls}" ]; then
    prepare test_mls mls --root "${mls}" --split test --langs ${mls_langs}
    test_dirs+=(data/test_mls)
fi
set -- ${extra}
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || die "--extra takes pairs of data dir and language id, got a lone '$1'"
    train_dirs+=(--add "$1" "$2")
    shift 2
done

log "data/train: combining ${train_dirs[*]}"
"${prep[@]}" combine --out data/train "${train_dirs[@]}"
python3 local/languages.py names data/languages.tsv data/train data/dev "${test_dirs[@]}"
log "done: data/train data/dev ${test_dirs[*]} data/languages.tsv"
