# Where the corpora are on disk, as released (run.sh passes them to local/data.sh).
# Empty: not used (FLEURS is required). Layouts: espnet2_bloomzmms/data/corpora/<corpus>.py
FLEURS=${FLEURS:-}            # the google/fleurs dataset repository (data/<lang>/{train,dev,test}.tsv + audio/)
COMMONVOICE=${COMMONVOICE:-}  # a Common Voice release, e.g. cv-corpus-12.0-2022-12-07 (<locale>/train.tsv + clips/)
CV_SUBSET=${CV_SUBSET:-}      # optional list of the Common Voice clips to train on (the paper used a subsample)
VOXPOPULI=${VOXPOPULI:-}      # VoxPopuli transcribed data (transcribed_data/<lang>/asr_*.tsv + <year>/*.ogg)
MLS=${MLS:-}                  # Multilingual LibriSpeech (mls_<language>/{train,dev,test}/)
# Stage 12's test sets (each prepared only if given; which pairs and tasks: local/data.sh)
COVOST2=${COVOST2:-}          # CoVoST 2: the extracted covost_v2.en_<tgt>.tsv (or get_covost_splits.py's .test.tsv)
COVOST2_CV=${COVOST2_CV:-}    # Common Voice English of CoVoST's clips (clips/ + validated.tsv); default ${COMMONVOICE}/en
SPEECHGLUE=${SPEECHGLUE:-}    # SpeechGLUE's data_prep.py output (<task>/validation*/data.csv + TTS wavs)
SPEECHXNLI=${SPEECHXNLI:-}    # SpeechXNLI speech (sentences_<lang>.txt + audios/<lang>/*.flac); needs XNLI
XNLI=${XNLI:-}                # XNLI-1.0 (xnli.dev.tsv: the labels and texts SpeechXNLI speaks)
