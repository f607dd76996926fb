#!/usr/bin/env bash
# Stage 1 of the FLEURS recipe: Kaldi data dirs from the corpora as released on disk
# (layouts: espnet2_bloomzmms/data/corpora/<corpus>.py), every language mapped to one
# id across corpora (local/languages.py):
#   data/train            FLEURS train [+ Common Voice train (subset)] [+ VoxPopuli train, opt-in]
#   data/dev              FLEURS dev
#   data/test_fleurs      FLEURS test          data/test_voxpopuli, data/test_mls (if given)
#   data/languages.tsv    language id <TAB> English name, for the instruction templates
# and the test sets of stage 12 (python -m espnet2_bloomzmms.bin.prepare_eval_data):
#   data/st_fleurs_<src>_<tgt>     FLEURS test, <src> speech -> <tgt> text (FLEURS codes)
#   data/st_covost2_en_<tgt>       CoVoST 2 test, English speech -> <tgt> (if --covost2)
#   data/nlu_speechglue_<task>     SpeechGLUE validation sets (if --speechglue)
#   data/nlu_speechxnli            SpeechXNLI, XNLI's validation set spoken (if --speechxnli)
#
#   local/data.sh --fleurs DIR [--commonvoice DIR [--cv_subset FILE] [--cv_langs "de fr"]] \
#       [--voxpopuli DIR [--voxpopuli_train true]] [--mls DIR] [--langs "en_us de_de"] [--extra "DIR LANG ..."] [--nj 8] \
#       [--covost2 DIR [--covost2_cv DIR] [--covost2_tgts "de ja"]] [--fleurs_st_pairs "en_us:de_de"] \
#       [--speechglue DIR [--speechglue_tasks "rte sst2"]] [--speechxnli DIR --xnli DIR [--speechxnli_langs "en de"]] \
#       [--nlu_spoken all|first]
#   local/data.sh [same options] --list_eval_sets st|nlu     # print the names of stage 12's sets
#
# VoxPopuli is a test set of the paper: its train split joins data/train only with
# --voxpopuli_train true (the authors trained on FLEURS + Common Voice).
# --langs limits FLEURS to some of its codes; --extra adds data dirs prepared by other
# ESPnet/Kaldi recipes to training (pairs of dir and language id). Lists may also be
# comma-separated ("de,ja"), as they must be inside run.sh --data_args. A finished corpus
# split or test set is not prepared again (delete data/local/done/<name> to redo it).
#
# Stage 12's sets: --fleurs_st_pairs (default: English to CoVoST 2's 15 targets;
# "none": no FLEURS pairs) reads the extracted audio (<src>/audio/test/); --covost2 is the
# dir of covost_v2.en_<tgt>.tsv (or get_covost_splits.py's covost_v2.en_<tgt>.test.tsv),
# --covost2_cv the Common Voice English dir of its clips (clips/ + validated.tsv; default
# <commonvoice>/en); --xnli is XNLI-1.0 (xnli.dev.tsv). Translation instructions name the
# languages as data/languages.tsv does (local/languages.py eval_names). --nlu_spoken all
# (default, the authors'): both sentences of two-sentence NLU tasks are speech; first:
# the first as speech, the second as text (a variant).
set -euo pipefail
log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (data.sh) $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

fleurs=""; commonvoice=""; cv_subset=""; cv_langs=""; voxpopuli=""; voxpopuli_train=false; mls=""; langs=""; extra=""; nj=8
covost2=""; covost2_cv=""; speechglue=""; speechxnli=""; xnli=""; list_eval_sets=""; nlu_spoken=all
voxpopuli_langs="cs de en es et fi fr hr hu it lt nl pl ro sk sl"  # the paper's VoxPopuli languages
mls_langs="de en es fr it nl pl pt"
covost2_tgts="de ca zh-CN fa et mn tr ar sv-SE lv sl ta ja id cy"  # CoVoST 2's 15 en->X pairs
fleurs_st_pairs="en_us:de_de en_us:ca_es en_us:cmn_hans_cn en_us:fa_ir en_us:et_ee en_us:mn_mn en_us:tr_tr
    en_us:ar_eg en_us:sv_se en_us:lv_lv en_us:sl_si en_us:ta_in en_us:ja_jp en_us:id_id en_us:cy_gb"  # the same in FLEURS
speechglue_tasks="cola mnli_matched mnli_mismatched mrpc qnli qqp rte sst2 stsb wnli"
speechxnli_langs="ar bg de el en es fr hi ru sw th tr ur vi zh"
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || die "option $1 needs a value (see the header of $0)"
    case $1 in
        --fleurs) fleurs=$2 ;; --commonvoice) commonvoice=$2 ;; --cv_subset) cv_subset=$2 ;;
        --cv_langs) cv_langs=${2//,/ } ;; --voxpopuli) voxpopuli=$2 ;; --voxpopuli_train) voxpopuli_train=$2 ;; --mls) mls=$2 ;; --langs) langs=${2//,/ } ;;
        --extra) extra=${2//,/ } ;; --nj) nj=$2 ;;
        --covost2) covost2=$2 ;; --covost2_cv) covost2_cv=$2 ;; --covost2_tgts) covost2_tgts=${2//,/ } ;;
        --fleurs_st_pairs) fleurs_st_pairs=${2//,/ } ;; --speechglue) speechglue=$2 ;;
        --speechglue_tasks) speechglue_tasks=${2//,/ } ;; --speechxnli) speechxnli=$2 ;; --xnli) xnli=$2 ;;
        --speechxnli_langs) speechxnli_langs=${2//,/ } ;; --list_eval_sets) list_eval_sets=$2 ;;
        --nlu_spoken) nlu_spoken=$2 ;;
        *) die "unknown option $1 (see the header of $0)" ;;
    esac
    shift 2
done
case ${voxpopuli_train} in true|false) ;; *) die "--voxpopuli_train must be true or false, not '${voxpopuli_train}'" ;; esac
[ -n "${voxpopuli}" ] || [ "${voxpopuli_train}" = false ] || die "--voxpopuli_train true needs --voxpopuli DIR"
[ "${fleurs_st_pairs}" != none ] || fleurs_st_pairs=""
for pair in ${fleurs_st_pairs}; do
    [[ "${pair}" =~ ^[a-z0-9_]+:[a-z0-9_]+$ ]] || die "--fleurs_st_pairs: '${pair}' is not <src>:<tgt> (FLEURS codes, e.g. en_us:de_de)"
done
[ -z "${covost2}" ] || covost2_cv=${covost2_cv:-${commonvoice:+${commonvoice}/en}}

# Stage 12's sets (run.sh lists them with --list_eval_sets): only those of the corpora given
st_sets() {
    if [ -n "${covost2}" ]; then for t in ${covost2_tgts}; do echo "st_covost2_en_${t}"; done; fi
    if [ -n "${fleurs}" ]; then for p in ${fleurs_st_pairs}; do echo "st_fleurs_${p%%:*}_${p#*:}"; done; fi
}
nlu_sets() {
    if [ -n "${speechglue}" ]; then for t in ${speechglue_tasks}; do echo "nlu_speechglue_${t}"; done; fi
    if [ -n "${speechxnli}" ]; then echo nlu_speechxnli; fi
}
case ${list_eval_sets} in
    "") ;;
    st) echo $(st_sets); exit 0 ;;
    nlu) echo $(nlu_sets); exit 0 ;;
    *) die "--list_eval_sets takes st or nlu, not '${list_eval_sets}'" ;;
esac

[ -n "${fleurs}" ] || die "--fleurs DIR is required (the google/fleurs repository on disk; set FLEURS in db.sh)"
# the test sets' inputs are checked before the long preparation of the training data
fleurs_root=${fleurs}; [ ! -d "${fleurs}/data" ] || fleurs_root=${fleurs}/data
for pair in ${fleurs_st_pairs}; do
    for lang in ${pair%%:*} ${pair#*:}; do
        [ -f "${fleurs_root}/${lang}/test.tsv" ] \
            || die "FLEURS pair ${pair}: ${fleurs_root}/${lang}/test.tsv is missing (choose pairs with --fleurs_st_pairs, or none)"
    done
    [ -d "${fleurs_root}/${pair%%:*}/audio/test" ] \
        || die "FLEURS pair ${pair}: the pairs read extracted audio: unpack ${fleurs_root}/${pair%%:*}/audio/test.tar.gz there"
done
covost2_tsv() {  # covost2_tsv TGT: the TSV of en->TGT (the test split file if there is one)
    local f=${covost2}/covost_v2.en_$1
    if [ -f "${f}.test.tsv" ]; then echo "${f}.test.tsv"; else echo "${f}.tsv"; fi
}
if [ -n "${covost2}" ]; then
    [ -n "${covost2_cv}" ] || die "--covost2 needs the Common Voice English clips: --covost2_cv DIR or --commonvoice DIR (COVOST2_CV or COMMONVOICE in db.sh)"
    [ -d "${covost2_cv}/clips" ] || die "--covost2: ${covost2_cv}/clips is missing (Common Voice English: clips/ + validated.tsv)"
    for t in ${covost2_tgts}; do
        tsv=$(covost2_tsv "${t}")
        [ -f "${tsv}" ] || die "--covost2: ${tsv} is missing (extract covost_v2.en_${t}.tsv.tar.gz, or choose --covost2_tgts)"
        [[ "${tsv}" == *.test.tsv ]] || [ -f "${covost2_cv}/validated.tsv" ] \
            || die "--covost2: ${tsv} has no transcripts: ${covost2_cv}/validated.tsv (Common Voice) is needed"
    done
fi
[ -z "${speechxnli}" ] || [ -f "${xnli}/xnli.dev.tsv" ] \
    || die "--speechxnli needs --xnli DIR with xnli.dev.tsv (XNLI-1.0; XNLI in db.sh), got '${xnli}'"

prep=(python3 -m espnet2_bloomzmms.bin.prepare_corpus)
eval_prep=(python3 -m espnet2_bloomzmms.bin.prepare_eval_data)
mkdir -p data/local/done
once() {  # once NAME COMMAND...: run COMMAND, which writes data/NAME, unless it did before
    local name=$1; shift
    if [ -e "data/local/done/${name}" ]; then
        log "data/${name}: already prepared"
        return
    fi
    log "data/${name}: $*"
    "$@"
    touch "data/local/done/${name}"
}
prepare() {  # prepare NAME CORPUS OPTIONS...: one corpus split into data/NAME, once
    local name=$1 corpus=$2; shift 2
    once "${name}" "${prep[@]}" "${corpus}" --output_dir "data/${name}" --nj "${nj}" "$@"
}
prepare_eval() {  # prepare_eval NAME CORPUS OPTIONS...: one test set of stage 12 into data/NAME, once
    local name=$1 corpus=$2; shift 2
    once "${name}" "${eval_prep[@]}" "${corpus}" --output_dir "data/${name}" --nj "${nj}" "$@"
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
    if [ "${voxpopuli_train}" = true ]; then
        prepare voxpopuli_train voxpopuli --root "${voxpopuli}" --split train --langs ${voxpopuli_langs}
        train_dirs+=(--dir data/voxpopuli_train)
    fi
    prepare test_voxpopuli voxpopuli --root "${voxpopuli}" --split test --langs ${voxpopuli_langs}
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
"${prep[@]}" combine --output_dir data/train "${train_dirs[@]}"
python3 local/languages.py names data/languages.tsv data/train data/dev "${test_dirs[@]}"

python3 local/languages.py eval_names data/local/eval_languages.tsv
names=(--languages data/local/eval_languages.tsv)
if [ -n "${covost2}" ]; then
    cv_opts=(--clips "${covost2_cv}/clips")
    [ ! -f "${covost2_cv}/validated.tsv" ] || cv_opts+=(--validated "${covost2_cv}/validated.tsv")
    for t in ${covost2_tgts}; do
        # the pairs share the English clips: decoded once into data/local/covost2_wavs
        prepare_eval "st_covost2_en_${t}" covost2 --tsv "$(covost2_tsv "${t}")" "${cv_opts[@]}" "${names[@]}" \
            --audio_dir data/local/covost2_wavs
    done
fi
for pair in ${fleurs_st_pairs}; do
    prepare_eval "st_fleurs_${pair%%:*}_${pair#*:}" fleurs_pairs --root "${fleurs_root}" \
        --src "${pair%%:*}" --tgt "${pair#*:}" "${names[@]}"
done
if [ -n "${speechglue}" ]; then
    for t in ${speechglue_tasks}; do
        prepare_eval "nlu_speechglue_${t}" speechglue --root "${speechglue}" --task "${t}" --spoken "${nlu_spoken}"
    done
fi
if [ -n "${speechxnli}" ]; then
    [ "${nlu_spoken}" = first ] && xnli_spoken=premise || xnli_spoken=${nlu_spoken}
    prepare_eval nlu_speechxnli speechxnli --xnli_tsv "${xnli}/xnli.dev.tsv" --speech_dir "${speechxnli}" \
        --langs ${speechxnli_langs} --spoken "${xnli_spoken}"
fi
log "done: data/train data/dev ${test_dirs[*]} data/languages.tsv;" "stage 12's sets:" $(st_sets) $(nlu_sets)
