#!/usr/bin/env bash
# BLOOMZMMS at the paper's scale (Denisov & Vu, NAACL Findings 2024): MMS-1B-all,
# a 17 x 1024 E-Branchformer and BLOOMZ-7b1, CTC pre-training then multi-instructional
# training (T / MI / TMI) on FLEURS (102 languages) + Common Voice, tested
# on FLEURS, VoxPopuli and MLS, then as a zero-shot speech translator (CoVoST 2, FLEURS)
# and spoken-language understander (SpeechGLUE, SpeechXNLI) in stage 12. Corpora: db.sh;
# cluster launch: cmd.sh; resources per stage and config: README.md.
# Defaults are the authors' setup (their adaptor and language CTC, batches, epochs, weight
# decay, whisper_basic CTC text, 8-bit MI targets, beam 5); README.md lists each difference
# and the conf/tuning/ variant that has it (e.g. conf/tuning/train_*_linear_adaptor.yaml).
#
#   ./run.sh                                          # every stage (4 GPUs)
#   ./run.sh --stage 5 --stop_stage 6                 # training only; re-runnable, resumes
#   ./run.sh --ngpu 1 --ctc_config conf/tuning/train_ctc_24gb.yaml \
#       --ce_config conf/tuning/train_ce_24gb.yaml    # one 24 GB GPU
#   ./run.sh --num_nodes 2 --stage 5 --stop_stage 6   # 2 nodes x 4 GPUs (set cmd.sh first)
#   ./run.sh --stage 11 --hf_repo owner/bloomzmms     # upload the packed model
#   ./run.sh --stage 12 --eval_models "ce_T ce_TMI"   # the translation / NLU sets stage 1 made
#   ./run.sh --help                                   # every stage and option
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh
. ./db.sh
. ./cmd.sh

ngpu=4                            # GPUs per node
nj=8                              # parallel audio decoding jobs in stage 1
ctc_config=conf/train_ctc.yaml    # step 1, the authors' setup (conf/tuning/ has the variants)
ce_config=conf/train_ce.yaml      # step 2, initialised from step 1
mms=""                            # speech encoder; default: the one ctc_config names
llm=""                            # LLM; default: the one ctc_config names
data_args=""                      # more options of local/data.sh, lists comma-separated
                                  # (e.g. "--fleurs_st_pairs en_us:de_de,de_de:en_us --speechglue_tasks rte,sst2")
rest=()
while [ $# -gt 0 ]; do
    case "$1" in
        --ngpu) ngpu=$2; shift 2 ;;
        --nj) nj=$2; shift 2 ;;
        --ctc_config) ctc_config=$2; shift 2 ;;
        --ce_config) ce_config=$2; shift 2 ;;
        --mms) mms=$2; shift 2 ;;
        --llm) llm=$2; shift 2 ;;
        --data_args) data_args=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set /{/^#/p};/^ngpu=/,/^rest=/p' "$0" | sed '$d'; ./bloomzmms.sh --help; exit 0 ;;
        *) rest+=("$1"); shift ;;
    esac
done

# The base models are the configs' own (both steps must name the same ones).
base_model() {  # base_model CONFIG frontend_conf|decoder_conf
    python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))[sys.argv[2]]["model_name_or_path"])' "$1" "$2"
}
for part in frontend_conf decoder_conf; do
    [ "$(base_model "${ctc_config}" ${part})" = "$(base_model "${ce_config}" ${part})" ] \
        || { echo "run.sh: ${ctc_config} and ${ce_config} name different base models (${part})" >&2; exit 1; }
done
mms=${mms:-$(base_model "${ctc_config}" frontend_conf)}
llm=${llm:-$(base_model "${ctc_config}" decoder_conf)}

data_opts="--nj ${nj}"
test_sets=test_fleurs
[ -z "${FLEURS}" ] || data_opts+=" --fleurs ${FLEURS}"
[ -z "${COMMONVOICE}" ] || data_opts+=" --commonvoice ${COMMONVOICE}"
[ -z "${CV_SUBSET}" ] || data_opts+=" --cv_subset ${CV_SUBSET}"
[ -z "${VOXPOPULI}" ] || { data_opts+=" --voxpopuli ${VOXPOPULI}"; test_sets+=" test_voxpopuli"; }
[ -z "${MLS}" ] || { data_opts+=" --mls ${MLS}"; test_sets+=" test_mls"; }
[ -z "${COVOST2}" ] || data_opts+=" --covost2 ${COVOST2}"
[ -z "${COVOST2_CV}" ] || data_opts+=" --covost2_cv ${COVOST2_CV}"
[ -z "${SPEECHGLUE}" ] || data_opts+=" --speechglue ${SPEECHGLUE}"
[ -z "${SPEECHXNLI}" ] || data_opts+=" --speechxnli ${SPEECHXNLI}"
[ -z "${XNLI}" ] || data_opts+=" --xnli ${XNLI}"
data_opts+=" ${data_args}"
# stage 12's test sets: the ones local/data.sh prepares from the corpora given
st_sets=$(local/data.sh ${data_opts} --list_eval_sets st)
nlu_sets=$(local/data.sh ${data_opts} --list_eval_sets nlu)

./bloomzmms.sh \
    --ngpu "${ngpu}" --nj "${nj}" \
    --train_launcher "${train_launcher}" --dist_launcher "${dist_launcher}" --decode_cmd "${decode_cmd}" \
    --local_data_opts "${data_opts}" \
    --train_set train --valid_set dev --test_sets "${test_sets}" \
    --st_sets "${st_sets}" --nlu_sets "${nlu_sets}" \
    --languages data/languages.tsv --templates local/data/instructions.tsv \
    --mms "${mms}" --llm "${llm}" \
    --ctc_config "${ctc_config}" --ce_config "${ce_config}" \
    --mi_args "--batch_size 32" \
    "${rest[@]}"
