#!/usr/bin/env bash
# Stage 3 of the mini recipe: tiny base models, written locally in Hugging Face format.
#  - an MMS-architecture speech encoder, pre-trained on the training audio to predict its
#    log-mel frames (local/teach_mms.py: a random wav2vec2 is no feature extractor), so that
#    it stands in for MMS; the recipe's configs train on top of its weighted layer sum,
#  - a BLOOM-architecture LLM with a BPE tokenizer trained on the recipe's text (over
#    characters, with byte fallback: 600 tokens give ~1.5 characters a token, frequent enough
#    for the CTC head over that vocabulary to learn from 1400 sentences), then taught to
#    follow the recipe's instructions on text alone (local/teach_llm.py), so that it stands
#    in for BLOOMZ, also on sentences spelled in CTC shape (tokens between blanks). The
#    recipe's speech model hands it CTC-compressed speech (conf/train_ce.yaml), but the
#    CTC-shaped examples make it follow held-out instructions (what they bring: README.md).
# A --mms / --llm that is not a path under exp/ (a hub name, an existing dir) is used as
# it is and nothing is written for it. Existing outputs are kept (the stage resumes).
set -euo pipefail
mms=exp/models/mms; llm=exp/models/llm
vocab_size=600; tokenizer=char_bpe; hidden_size=128; num_layers=2; seed=0
mms_hidden_size=64; mms_conv_dim=64; mms_teach_steps=400
teach_steps=8000; teach_minutes=10; langs=en,de,fr,es,sw,hi,ru; n_dev=20; n_test=20
while [ $# -gt 0 ]; do
    case $1 in
        --mms) mms=$2 ;; --llm) llm=$2 ;; --vocab_size) vocab_size=$2 ;; --tokenizer) tokenizer=$2 ;; --hidden_size) hidden_size=$2 ;;
        --num_layers) num_layers=$2 ;; --seed) seed=$2 ;; --teach_steps) teach_steps=$2 ;; --teach_minutes) teach_minutes=$2 ;;
        --mms_hidden_size) mms_hidden_size=$2 ;; --mms_conv_dim) mms_conv_dim=$2 ;; --mms_teach_steps) mms_teach_steps=$2 ;;
        --langs) langs=$2 ;; --n_dev) n_dev=$2 ;; --n_test) n_test=$2 ;;
        *) echo "local/make_models.sh: unknown option $1" >&2; exit 1 ;;
    esac
    shift 2
done

if [[ "${mms}" == exp/* ]] && [ ! -e "${mms}/config.json" ]; then
    [ -e "${mms}_init/config.json" ] || python3 -m espnet2_bloomzmms.bin.make_tiny_checkpoints --mms_dir "${mms}_init" \
        --hidden_size "${mms_hidden_size}" --conv_dim "${mms_conv_dim}" --seed "${seed}"
    python3 local/teach_mms.py --mms_dir "${mms}_init" --wav_scp data/train/wav.scp --output_dir "${mms}" \
        --steps "${mms_teach_steps}" --seed "${seed}"
fi
if [[ "${llm}" == exp/* ]] && [ ! -e "${llm}/config.json" ]; then
    init=${llm}_init
    # the tokenizer learns the recipe's sentences and instructions
    corpus=$(mktemp); trap 'rm -f "${corpus}"' EXIT
    cat local/data/sentences/*.txt > "${corpus}"
    cut -f4,5 local/data/instructions.tsv | sed 's/\\n/\n/g; s/\t/\n/' >> "${corpus}"
    [ -e "${init}/config.json" ] || python3 -m espnet2_bloomzmms.bin.make_tiny_checkpoints --llm_dir "${init}" \
        --text "${corpus}" --vocab_size "${vocab_size}" --tokenizer "${tokenizer}" --hidden_size "${hidden_size}" --num_layers "${num_layers}" --seed "${seed}"
    # same sentence split as local/data.sh: the LLM never sees dev/test sentences
    python3 local/teach_llm.py --llm_dir "${init}" --data_dir local/data --output_dir "${llm}" \
        --langs ${langs//,/ } --n_dev "${n_dev}" --n_test "${n_test}" \
        --steps "${teach_steps}" --max_minutes "${teach_minutes}" --task_weights repeat=3 --random_copy 0.1 --ctc_shape 0.4 --seed "${seed}"
fi
