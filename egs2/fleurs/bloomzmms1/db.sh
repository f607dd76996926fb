# Where the corpora are on disk, as released (run.sh passes them to local/data.sh).
# Empty: not used (FLEURS is required). Layouts: espnet2_bloomzmms/data/corpora/<corpus>.py
FLEURS=${FLEURS:-}            # the google/fleurs dataset repository (data/<lang>/{train,dev,test}.tsv + audio/)
COMMONVOICE=${COMMONVOICE:-}  # a Common Voice release, e.g. cv-corpus-12.0-2022-12-07 (<locale>/train.tsv + clips/)
CV_SUBSET=${CV_SUBSET:-}      # optional list of the Common Voice clips to train on (the paper used a subsample)
VOXPOPULI=${VOXPOPULI:-}      # VoxPopuli transcribed data (transcribed_data/<lang>/asr_*.tsv + <year>/*.ogg)
MLS=${MLS:-}                  # Multilingual LibriSpeech (mls_<language>/{train,dev,test}/)
