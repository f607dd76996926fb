#!/usr/bin/env bash
# Tiny multilingual BLOOMZMMS: the whole method — corpus, speed perturbation, base models,
# multi-instruction targets, CTC pre-training, instruction training (T / MI / TMI),
# decoding, scoring, zero-shot instruction transfer, packing — on speech that espeak-ng
# synthesises in 7 languages, on CPU, with no download.
#
#   ./run.sh                          # every stage (RESULTS.md; its run time there)
#   ./run.sh --fast true              # a handful of utterances, one epoch each (CI)
#   ./run.sh --rebuild_base_models true   # stage 3 builds the base models instead of copying
#                                     # local/base_models/ (~1.5 h; with --fast true: a smoke build)
#   ./run.sh --stage 5 --stop_stage 6 # some stages; each is re-runnable
#   ./run.sh --mms facebook/mms-1b-all --llm bigscience/bloomz-560m   # real models
#   ./run.sh --help                   # every option of the stages (bloomzmms.sh)
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh
# the base models are local: no "Loading weights" bar on every load (0: bars, e.g. for --mms hub names)
export HF_HUB_DISABLE_PROGRESS_BARS=${HF_HUB_DISABLE_PROGRESS_BARS:-1}

fast=false                       # true: tiny smoke run of every stage
langs=en,de,fr,es,sw,hi,ru       # languages (codes of local/data/languages.tsv)
rebuild_base_models=false        # true: build the base models (local/base_models.py build)
rest=()
while [ $# -gt 0 ]; do
    case "$1" in
        --fast) fast=$2; shift 2 ;;
        --langs) langs=$2; shift 2 ;;
        --rebuild_base_models) rebuild_base_models=$2; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; ./bloomzmms.sh --help; exit 0 ;;
        *) rest+=("$1"); shift ;;
    esac
done

# the paper's speech input (the adaptor's frames) in ce_T/MI/TMI; the LLM reading the CTC
# head's compressed tokens instead, trained on TMI, is the comparison row ce_TMI_ctc_compressed;
# zero-shot transfer is tested on new wordings of trained tasks (heldout) and on tasks the
# LLM knows from text only (text: second_word, language)
common=(--local_models_opts "--rebuild ${rebuild_base_models} --quick ${fast}"
        --ce_variants "TMI:conf/tuning/train_ce_ctc_compressed.yaml" --zero_shot_split "heldout text")
if [ "${fast}" = true ]; then
    preset=(
        --local_data_opts "--langs ${langs} --max_train 4 --n_dev 2 --n_test 2"
        --mi_args "--max_new_tokens 16"
        --ctc_args "--max_epoch 1 --num_iters_per_epoch none --batch_bins 200000"
        --ce_args "--max_epoch 1 --num_iters_per_epoch none --batch_bins 200000"
        --decode_beams "1 2"
        --decode_args "--max_new_tokens 16"
        --zero_shot_args "--max_new_tokens 16"
        --eval_args "--max_new_tokens 16"
    )
else
    # sentences have <= 60 characters; the tiny LLM sometimes loops on a badly heard
    # sentence, so repeated 4-grams are blocked
    preset=(--local_data_opts "--langs ${langs} --renditions 2"
            --decode_args "--max_new_tokens 80 --no_repeat_ngram_size 4" --zero_shot_args "--max_new_tokens 80"
            --eval_args "--max_new_tokens 80")
fi

./bloomzmms.sh "${common[@]}" "${preset[@]}" "${rest[@]}"
