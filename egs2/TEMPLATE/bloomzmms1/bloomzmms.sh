#!/usr/bin/env bash
# The BLOOMZMMS pipeline as recipe stages, shared by every egs2/*/bloomzmms1 recipe.
# A recipe's run.sh calls it with its options; its local/data.sh prepares data dirs and
# an optional local/make_models.sh writes local base models (the tiny recipe's).
#
#   ./bloomzmms.sh --stage 1 --stop_stage 12 [options]     (./bloomzmms.sh --help lists them)
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') ($(basename "$0")) $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- options (--name value)
# Stages (each can be run again; training resumes, finished decodes are kept):
#   1  data preparation (local/data.sh), validated data dirs       data/{train,dev,test}
#   2  speed perturbation, formatting                              data/train_sp, dump/raw/*
#   3  base models (local/make_models.sh if the recipe has one)     exp/models/*
#   4  instruction targets T / MI / TMI with the text LLM           dump/raw/*_{T,MI,TMI}
#   5  CTC pre-training                                             exp/ctc
#   6  instruction training (CE) per set, from stage 5's model      exp/ce_{T,MI,TMI}
#      (the trainer averages the keep_nbest_models best epochs:     valid.<criterion>.ave.pth)
#   7  decoding of every test set with the averaged model           exp/*/decode_<test set>*
#   8  scoring per language (CER/WER)                               RESULTS.md
#   9  zero-shot instruction transfer                               exp/ce_*/zero_shot_*
#   10 packing                                                      exp/packed/*.zip
#   11 upload to the Hugging Face hub (needs --hf_repo)
#   12 speech translation / spoken NLU test sets (st_sets, nlu_sets):   exp/<model>/eval_<set>/*
#      the speech answer beside the LLM given the gold transcript
#      (ceiling) and given our ASR output (cascade), scored         RESULTS.md
# Options:
stage=1                 # first stage to run
stop_stage=12           # last stage to run
nj=2                    # parallel jobs for data preparation
ngpu=0                  # GPUs per node for training and decoding (0: CPU)
num_nodes=1             # nodes for training; > 1 needs dist_launcher and train_launcher
dist_launcher=""        # slurm or mpi: how a multi-node training's processes find their rank (ESPnet's --dist_launcher)
train_launcher=""       # prefix that starts one training process per node (e.g. "srun --nodes 2 --ntasks-per-node 1 --export=ALL")
multiprocessing_distributed=true  # ngpu > 1: one process per GPU (DDP); false: DataParallel in one process
use_deepspeed=false     # train with DeepSpeed (pip install deepspeed; ngpu > 1 or several nodes)
ctc_deepspeed_config=conf/deepspeed_zero2_ctc.json  # step 1's DeepSpeed JSON (optimizer, scheduler, ZeRO stage)
ce_deepspeed_config=conf/deepspeed_zero2_ce.json    # step 2's DeepSpeed JSON
python=python3          # the Python of the environment with espnet2_bloomzmms
local_data_opts=""      # options passed to local/data.sh
local_models_opts=""    # options passed to local/make_models.sh
train_set=train         # training data dir name under data/
valid_set=dev           # validation data dir name under data/
test_sets=test          # test data dir names under data/ (space separated)
speed_perturb_factors="0.9 1.0 1.1"  # empty: no speed perturbation
min_wav_duration=0.25   # stage 2 drops shorter training/validation utterances (s): the paper's encoder
                        # (MMS 20 ms frames, conv2d x4, adaptor x2) gives no frame below 0.225 s
mms=exp/models/mms      # speech encoder: hub name or local dir
llm=exp/models/llm      # LLM: hub name or local dir
templates=local/data/instructions.tsv   # instruction template pool (TSV)
languages=local/data/languages.tsv      # language code <TAB> English name
asr_template=T          # template id of the ASR instruction (the T set)
mi_k=2                  # templates drawn per utterance for MI
mi_seed=0               # seed of the template draws
mi_args=""              # extra options of make_instruction_targets
mi_nj=1                 # stage 4: jobs generating the MI answers (see decode_cmd)
mi_templates=""         # stage 4: JSON list of [prefix, postfix] pairs for MI (e.g. the authors' templates.json); empty: templates
mi_targets_from=""      # stage 4: the authors' T/MI/TMI targets (Zenodo tmi_training_targets, extracted dir or .tar.gz)
                        # instead of generating MI answers; empty: generate them with the LLM
ctc_config=conf/train_ctc.yaml   # step 1: CTC pre-training
ce_config=conf/train_ce.yaml     # step 2: instruction training (CE)
ctc_args=""             # extra training options, step 1 (e.g. "--max_epoch 1")
ce_args=""              # extra training options, step 2
instruction_sets="T MI TMI"     # training-data variants trained in stage 6
ce_variants=""          # stage 6: more instruction-trained models, "SET:CONFIG" each, e.g.
                        # "TMI:conf/tuning/train_ce_ctc_compressed.yaml" -> exp/ce_TMI_ctc_compressed
                        # (the config's name less train_ce_); decoded and tested like ce_<SET>
decode_args=""          # stage 7: extra options of espnet2_bloomzmms.bin.inference (e.g. "--batch_size 16")
zero_shot_args=""       # stage 9: extra options of espnet2_bloomzmms.bin.zero_shot_transfer
eval_args=""            # stage 12: extra options of espnet2_bloomzmms.bin.inference (speech and ASR decoding)
st_decode_args="--num_beams 5"  # stage 12: and of its translation decoding from speech (the authors': beam 5)
baseline_args=""        # stage 12: extra options of espnet2_bloomzmms.bin.text_baselines
decode_beams="1 5"      # beam sizes decoded in stage 7 (1: greedy)
decode_models=""        # stages 7-8: models under exp/ to decode and score, e.g. the authors' imported with
                        # bin.import_reference_model ("authors_ctc authors_ce_tmi"); a model whose config has
                        # ctc_weight 1 decodes with its CTC head, the others with the LLM at each decode_beams;
                        # empty: ctc, ce_<each instruction set> and the untrained baseline
decode_nj=1             # stages 7 and 12: decoding jobs per decode dir, merged (see decode_cmd)
decode_cmd=""           # how decoding and MI-answer jobs start: Kaldi's launcher interface "CMD JOB=1:N LOG
                        # command" (ESPnet's utils/run.pl, slurm.pl, queue.pl; see cmd.sh); empty: local
                        # background jobs, job J on GPU (J-1) % ngpu
zero_shot_split=heldout # template split tested for zero-shot instruction transfer
pack_set=TMI            # which instruction-trained model stage 10 packs
inference_model=""      # parameter file in exp/ce_*/ to decode with (valid.acc.best.pth); empty: the averaged model
hf_repo=""              # stage 11: hub repo (owner/name) the packed model goes to; empty: no upload
upload_args=""          # extra options of espnet2_bloomzmms.bin.upload (e.g. "--private true --license apache-2.0")
st_sets=""              # stage 12: translation test sets under data/ (bin.prepare_eval_data covost2|fleurs_pairs)
nlu_sets=""             # stage 12: spoken NLU test sets under data/ (bin.prepare_eval_data speechglue|speechxnli)
eval_models=""          # stage 12: models under exp/ to evaluate; empty: ce_<pack_set>

usage() { sed -n '/^# -\{10\}.* options/,/^$/p' "$0" | sed '1d;$d'; }  # the block up to its blank line
option_names=$(usage | sed -n 's/^\([a-z_]*\)=.*/\1/p')
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --*=*) name=${1%%=*}; value=${1#*=}; shift ;;
        --*) [ $# -ge 2 ] || die "option $1 needs a value"; name=$1; value=$2; shift 2 ;;
        *) die "unexpected argument '$1' (options are --name value; --help lists them)" ;;
    esac
    name=${name#--}; name=${name//-/_}
    grep -qx "${name}" <<< "${option_names}" || die "unknown option --${name} (--help lists the options)"
    printf -v "${name}" '%s' "${value}"
done
# ---------------------------------------------------------------- parse done

sp_suffix=""; [ -n "${speed_perturb_factors}" ] && sp_suffix=_sp
train=${train_set}${sp_suffix}
dump=dump/raw
lang_list=${dump}/${train}_T/lang_list
# ${train_launcher} is split into words on purpose: it is a command prefix
train_cmd=(${train_launcher} "${python}" -m espnet2_bloomzmms.bin.train --ngpu "${ngpu}" --resume true
           --multiprocessing_distributed "${multiprocessing_distributed}"
           --frontend_conf "model_name_or_path=${mms}" --decoder_conf "model_name_or_path=${llm}")

# each stage's wall-clock seconds, appended per run (bin.write_results puts them in RESULTS.md)
stage_times=exp/stage_times.tsv
current_stage=""
stage_start=0
end_stage() {  # record how long the running stage took
    if [ -n "${current_stage}" ]; then
        mkdir -p exp
        printf '%s\t%s\n' "${current_stage}" "$(( $(date +%s) - stage_start ))" >> "${stage_times}"
        current_stage=""
    fi
}
begin_stage() { end_stage; current_stage=$1; stage_start=$(date +%s); }
write_results() { end_stage; "${python}" -m espnet2_bloomzmms.bin.write_results --exp exp --output RESULTS.md; }

require() {  # require PATH STAGE: PATH is made by stage STAGE
    [ -e "$1" ] || die "$1 is missing: run stage $2 first (./run.sh --stage $2)"
}
data_opts() {  # data_opts train|valid DIR: ESPnet's data options for a data dir: the shape
    # file, wav.scp as speech and the text files it has, as the registry of data-dir files
    # (espnet2_bloomzmms/data/files.py) declares them
    "${python}" -m espnet2_bloomzmms.data.files --training_args "$1" "$2"
}
ce_sets() {  # the instruction-trained models: ce_<set>, then the variants
    for v in ${instruction_sets}; do echo "ce_${v}"; done
    for x in ${ce_variants}; do echo "$(ce_variant_name "${x}")"; done
}
ce_variant_name() { local c; c=$(basename "${1#*:}" .yaml); echo "ce_${1%%:*}_${c#train_ce_}"; }
models_to_decode() { if [ -n "${decode_models}" ]; then echo ${decode_models}; else echo ctc $(ce_sets); fi; }
is_ctc_model() {  # is_ctc_model EXP_DIR: its config trains the CTC head alone (ctc_weight 1, the model's default)
    [ -e "$1/config.yaml" ] && "${python}" -c 'import sys, yaml; c = yaml.safe_load(open(sys.argv[1])) or {}
sys.exit(0 if float((c.get("model_conf") or {}).get("ctc_weight", 1.0)) >= 1 else 1)' "$1/config.yaml"
}
decode_dirs() {  # decode_dirs TEST_SET: what stage 7 writes for it
    [ -n "${decode_models}" ] || echo "exp/untrained/decode_$1_beam1"
    for m in $(models_to_decode); do
        if is_ctc_model "exp/${m}"; then echo "exp/${m}/decode_$1"; else
            for b in ${decode_beams}; do echo "exp/${m}/decode_$1_beam${b}"; done
        fi
    done
}
# (data_opts and the two functions below can die: call them as "x=$(f ...)" so that set -e stops the script)
parallel_opts() {  # parallel_opts EXP_DIR DEEPSPEED_JSON: multi-node and DeepSpeed training options
    if [ "${num_nodes}" -gt 1 ]; then
        [ -n "${dist_launcher}" ] && [ -n "${train_launcher}" ] \
            || die "--num_nodes ${num_nodes} needs --dist_launcher (slurm or mpi) and --train_launcher (e.g. srun ...)"
        mkdir -p "$1"  # a file on the shared file system lets the nodes meet (as ESPnet's launch.py does)
        echo --dist_launcher "${dist_launcher}" --dist_init_method "file://$(pwd)/$1/.dist_init_$(date +%s%N)"
    fi
    if [ "${use_deepspeed}" = true ]; then
        [ -e "$2" ] || die "DeepSpeed config $2 is missing (--ctc_deepspeed_config / --ce_deepspeed_config)"
        echo --use_deepspeed true --deepspeed_config "$2"
    fi
}
. ./jobs.sh  # run_jobs, decode: work spread over jobs
model_opts() {  # model_opts EXP_DIR: the inference CLI's options for an instruction-trained model
    if [ -n "${inference_model}" ]; then
        require "$1/${inference_model}" 6
        echo --config "$1/config.yaml" --model_file "$1/${inference_model}"
    else
        echo --model_dir "$1"
    fi
}

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    begin_stage 1
    log "Stage 1: data preparation (local/data.sh)"
    [ -x local/data.sh ] || die "local/data.sh is missing: the recipe must provide it"
    local/data.sh ${local_data_opts}
    for x in ${train_set} ${valid_set} ${test_sets}; do
        # (min_samples=0: stage 2 drops too-short utterances from training sets, decoding skips them)
        "${python}" -c "from espnet2_bloomzmms.data.datadir import validate_data_dir as v; print('data/$x:', v('data/$x', min_samples=0), 'utterances')"
    done
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    begin_stage 2
    log "Stage 2: speed perturbation (${speed_perturb_factors:-none}) and formatting to ${dump}"
    for x in ${train_set} ${valid_set} ${test_sets}; do require "data/$x/wav.scp" 1; done
    if [ -n "${speed_perturb_factors}" ]; then
        "${python}" -m espnet2_bloomzmms.bin.speed_perturb --src "data/${train_set}" --output_dir "data/${train}" \
            --factors ${speed_perturb_factors} --nj "${nj}"
    fi
    for x in ${train} ${valid_set}; do
        "${python}" -m espnet2_bloomzmms.bin.format_data_dir "data/$x" "${dump}/$x" --min_seconds "${min_wav_duration}"
    done
    for x in ${test_sets}; do
        "${python}" -m espnet2_bloomzmms.bin.format_data_dir "data/$x" "${dump}/$x"
    done
fi

if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    begin_stage 3
    if [ -x local/make_models.sh ]; then
        log "Stage 3: base models (local/make_models.sh)"
        local/make_models.sh --mms "${mms}" --llm "${llm}" ${local_models_opts}
    else
        log "Stage 3: nothing to do: base models are ${mms} and ${llm}"
    fi
fi

if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
    begin_stage 4
    log "Stage 4: instruction targets (T, MI, TMI) with ${llm}"
    require "${dump}/${train}/wav.scp" 2
    [ -e "${llm}" ] || [[ "${llm}" != exp/* ]] || die "${llm} is missing: run stage 3 first (./run.sh --stage 3)"
    # the text LLM as instruction training loads it (the CE config's dtype and quantization)
    targets=("${python}" -m espnet2_bloomzmms.bin.make_instruction_targets --llm "${llm}" --llm_config "${ce_config}"
             --templates "${templates}" --languages "${languages}" --asr_template "${asr_template}")
    t_only=("${targets[@]}")
    targets+=(--src "${dump}/${train}" --dst_prefix "${dump}/${train}" --exp_dir "exp/instruction_targets/${train}"
              --k "${mi_k}" --seed "${mi_seed}" ${mi_templates:+--mi_templates "${mi_templates}"} ${mi_args})
    if [ -n "${mi_targets_from}" ]; then  # the authors' targets: no generation
        log "Stage 4: the authors' targets from ${mi_targets_from}"
        "${python}" -m espnet2_bloomzmms.bin.import_reference_targets --targets "${mi_targets_from}" \
            --train_dir "${dump}/${train}" --dst_prefix "${dump}/${train}" --llm "${llm}"
    elif [ "${mi_nj}" -gt 1 ]; then  # the answers in mi_nj jobs, then one run writes the data dirs
        mkdir -p "exp/instruction_targets/${train}"
        log "Stage 4: generating the MI answers in ${mi_nj} jobs (logs: exp/instruction_targets/${train}/generate.*.log)"
        run_jobs "${mi_nj}" "exp/instruction_targets/${train}/generate.JOB.log" "${targets[@]}" \
            --num_shards "${mi_nj}" --shard JOB
    fi
    [ -n "${mi_targets_from}" ] || "${targets[@]}"
    for x in ${valid_set} ${test_sets}; do
        "${t_only[@]}" --src "${dump}/$x" --dst_prefix "${dump}/$x" --exp_dir exp/instruction_targets/$x --variants T
    done
    cut -d' ' -f2 "${dump}/${train}_T/utt2lang" | sort -u > "${lang_list}"
fi

if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
    begin_stage 5
    log "Stage 5: CTC pre-training -> exp/ctc"
    require "${dump}/${train}_T/prefix" 4
    parallel=$(parallel_opts exp/ctc "${ctc_deepspeed_config}")
    train_data=$(data_opts train "${dump}/${train}_T")
    valid_data=$(data_opts valid "${dump}/${valid_set}_T")
    "${train_cmd[@]}" --config "${ctc_config}" --lang_list "${lang_list}" --output_dir exp/ctc ${parallel} \
        ${train_data} ${valid_data} ${ctc_args}
fi

if [ "${stage}" -le 6 ] && [ "${stop_stage}" -ge 6 ]; then
    begin_stage 6
    require exp/ctc/config.yaml 5
    # step 1's model: its averaged / best checkpoint (also what DeepSpeed writes)
    ctc_model=$("${python}" -c "from espnet2_bloomzmms.model_archive import find_model_file; print(find_model_file('exp/ctc'))")
    runs=(); for v in ${instruction_sets}; do runs+=("${v}:${ce_config}:exp/ce_${v}"); done
    for x in ${ce_variants}; do
        [[ "${x}" == *:* ]] && [ -e "${x#*:}" ] || die "--ce_variants: '${x}' is not SET:CONFIG with an existing CONFIG"
        name=$(ce_variant_name "${x}")
        for v in ${instruction_sets}; do
            [ "${name}" != "ce_${v}" ] || die "--ce_variants: '${x}' would be trained into exp/ce_${v}, an instruction set's model"
        done
        runs+=("${x}:exp/${name}")
    done
    for x in "${runs[@]}"; do
        v=${x%%:*}; out=${x##*:}; config=${x#*:}; config=${config%:*}
        log "Stage 6: instruction training on ${v} with ${config} -> ${out} (from ${ctc_model})"
        require "${dump}/${train}_${v}/prefix" 4
        parallel=$(parallel_opts "${out}" "${ce_deepspeed_config}")
        train_data=$(data_opts train "${dump}/${train}_${v}")
        valid_data=$(data_opts valid "${dump}/${valid_set}_T")
        "${train_cmd[@]}" --config "${config}" --lang_list "${lang_list}" --output_dir "${out}" \
            --init_param "${ctc_model}" ${parallel} \
            ${train_data} ${valid_data} ${ce_args}
    done
fi

if [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 7 ]; then
    begin_stage 7
    device=cpu; [ "${ngpu}" -gt 0 ] && device=cuda
    infer=("${python}" -m espnet2_bloomzmms.bin.inference --device "${device}")
    for x in ${test_sets}; do
        require "${dump}/${x}_T/prefix" 4
        log "Stage 7: decoding ${x}"
        for m in $(models_to_decode); do
            require "exp/${m}/config.yaml" "$([ "${m}" = ctc ] && echo 5 || echo 6)"
            if is_ctc_model "exp/${m}"; then
                decode "${dump}/${x}_T" "exp/${m}/decode_${x}" --model_dir "exp/${m}" --ctc true --llm false ${decode_args}
                continue
            fi
            model=$(model_opts "exp/${m}")
            for beam in ${decode_beams}; do
                decode "${dump}/${x}_T" "exp/${m}/decode_${x}_beam${beam}" ${model} --num_beams "${beam}" ${decode_args}
            done
        done
        if [ -z "${decode_models}" ]; then  # the untrained baseline: the first CE config without weights
            m=$(ce_sets | sed -n 1p)  # (sed reads all: head would end the pipe early, pipefail)
            decode "${dump}/${x}_T" "exp/untrained/decode_${x}_beam1" --config "exp/${m}/config.yaml" --ctc true \
                ${decode_args}
        fi
    done
fi

if [ "${stage}" -le 8 ] && [ "${stop_stage}" -ge 8 ]; then
    begin_stage 8
    log "Stage 8: scoring -> RESULTS.md"
    for x in ${test_sets}; do
        ref=${dump}/${x}_T
        for d in $(decode_dirs "${x}"); do
            for hyp in text text_ctc; do
                [ -e "$d/${hyp}" ] || continue
                "${python}" -m espnet2_bloomzmms.bin.score_asr --ref "${ref}/text" --hyp "$d/${hyp}" \
                    --utt2lang "${ref}/utt2lang" --name "${d#exp/}/${hyp}" --output "$d/score_${hyp}.json" >/dev/null
            done
        done
    done
    write_results
    cat RESULTS.md
fi

if [ "${stage}" -le 9 ] && [ "${stop_stage}" -ge 9 ]; then
    begin_stage 9
    device=cpu; [ "${ngpu}" -gt 0 ] && device=cuda
    for x in ${test_sets}; do
        for m in $(ce_sets); do
            require "exp/${m}/config.yaml" 6
            log "Stage 9: zero-shot instruction transfer, ${m} on ${x}"
            "${python}" -m espnet2_bloomzmms.bin.zero_shot_transfer --model_dir "exp/${m}" --data_dir "${dump}/${x}_T" \
                --templates "${templates}" --languages "${languages}" --split "${zero_shot_split}" \
                --output_dir "exp/${m}/zero_shot_${x}" --device "${device}" ${zero_shot_args}
        done
    done
    write_results
fi

if [ "${stage}" -le 10 ] && [ "${stop_stage}" -ge 10 ]; then
    begin_stage 10
    log "Stage 10: packing exp/ce_${pack_set}"
    require "exp/ce_${pack_set}/config.yaml" 6
    "${python}" -m espnet2_bloomzmms.bin.pack --model_dir "exp/ce_${pack_set}" --results RESULTS.md \
        --output "exp/packed/bloomzmms_ce_${pack_set}.zip"
fi
if [ "${stage}" -le 11 ] && [ "${stop_stage}" -ge 11 ]; then
    begin_stage 11
    if [ -z "${hf_repo}" ]; then
        log "Stage 11: no upload (give --hf_repo owner/name to upload exp/packed/bloomzmms_ce_${pack_set}.zip)"
    else
        require "exp/packed/bloomzmms_ce_${pack_set}.zip" 10
        log "Stage 11: uploading exp/packed/bloomzmms_ce_${pack_set}.zip to ${hf_repo}"
        "${python}" -m espnet2_bloomzmms.bin.upload --model "exp/packed/bloomzmms_ce_${pack_set}.zip" \
            --repo_id "${hf_repo}" ${upload_args}
    fi
fi
if [ "${stage}" -le 12 ] && [ "${stop_stage}" -ge 12 ] && [ -n "${st_sets}${nlu_sets}" ]; then
    begin_stage 12
    device=cpu; [ "${ngpu}" -gt 0 ] && device=cuda
    # the ASR instruction (template ${asr_template}) gives the transcripts of the cascade
    asr_prefix=$("${python}" -c 'import sys; from espnet2_bloomzmms.instructions import read_templates as r; print(next(t.prefix for t in r(sys.argv[1]) if t.id == sys.argv[2]), end="")' "${templates}" "${asr_template}")
    asr_postfix=$("${python}" -c 'import sys; from espnet2_bloomzmms.instructions import read_templates as r; print(next(t.postfix for t in r(sys.argv[1]) if t.id == sys.argv[2]), end="")' "${templates}" "${asr_template}")
    for m in ${eval_models:-ce_${pack_set}}; do
        require "exp/${m}/config.yaml" 6
        model=$(model_opts "exp/${m}")
        for x in ${st_sets} ${nlu_sets}; do
            [ -e "data/${x}/transcript" ] || die "data/${x}/transcript is missing: prepare ${x} with python -m espnet2_bloomzmms.bin.prepare_eval_data (local/data.sh, stage 1)"
            d=exp/${m}/eval_${x}
            constraint=(); kind=st
            if [[ " ${nlu_sets} " == *" ${x} "* ]]; then
                kind=nlu; mapfile -t answers < "data/${x}/answers"; constraint=(--answers "data/${x}/answers")
            fi
            log "Stage 12: ${kind} evaluation of ${m} on ${x} -> ${d}"
            infer=("${python}" -m espnet2_bloomzmms.bin.inference --device "${device}" ${model})
            if [ "${kind}" = nlu ]; then
                decode "data/${x}" "${d}/speech" --allowed_answers "${answers[@]}" ${eval_args}
            else
                decode "data/${x}" "${d}/speech" ${eval_args} ${st_decode_args}
            fi
            asr=(--prefix "${asr_prefix}" --postfix "${asr_postfix}" --ctc true ${eval_args})
            decode "data/${x}" "${d}/asr" --wav_scp "data/${x}/wav.scp" "${asr[@]}"
            texts=(--text gold="data/${x}/transcript" --text cascade="${d}/asr/text" --text cascade_ctc="${d}/asr/text_ctc")
            if [ -e "data/${x}/wav2.scp" ]; then  # both sentences spoken: the second one's ASR too
                decode "data/${x}" "${d}/asr2" --wav_scp "data/${x}/wav2.scp" "${asr[@]}"
                texts+=(--text2 gold="data/${x}/transcript2" --text2 cascade="${d}/asr2/text"
                        --text2 cascade_ctc="${d}/asr2/text_ctc")
            fi
            "${python}" -m espnet2_bloomzmms.bin.text_baselines --config "exp/${m}/config.yaml" --data_dir "data/${x}" \
                --output_dir "${d}" --device "${device}" "${constraint[@]}" "${texts[@]}" ${baseline_args}
            for sys in speech gold cascade cascade_ctc; do
                if [ "${kind}" = nlu ]; then
                    "${python}" -m espnet2_bloomzmms.bin.score_nlu --task "$(cat "data/${x}/task")" --ref "data/${x}/text" \
                        --hyp "${d}/${sys}/text" --utt2lang "data/${x}/utt2lang" --name "${m}/${x}/${sys}" --output_dir "${d}/${sys}"
                else
                    "${python}" -m espnet2_bloomzmms.bin.score_st --ref "data/${x}/text" --hyp "${d}/${sys}/text" \
                        --utt2pair "data/${x}/utt2pair" --source "data/${x}/transcript" --name "${m}/${x}/${sys}" --output_dir "${d}/${sys}"
                fi
            done
        done
    done
    write_results
fi
end_stage
if [ "${stop_stage}" -ge 8 ] && [ -e RESULTS.md ]; then
    write_results  # again, with the times of the stages after the last scoring
fi
log "Finished stages ${stage}-${stop_stage}"
