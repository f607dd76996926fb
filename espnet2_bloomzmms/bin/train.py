#!/usr/bin/env python3
"""Train a BLOOMZMMS model with ESPnet's trainer.

    python -m espnet2_bloomzmms.bin.train --config conf/train_ctc.yaml \
        --train_data_path_and_name_and_type dump/raw/train/wav.scp,speech,sound \
        --train_data_path_and_name_and_type dump/raw/train/text,text,text \
        --train_shape_file exp/stats/train/speech_shape ... --output_dir exp/ctc

All of ESPnet's training options apply (``--ngpu``, ``--multiprocessing_distributed``,
``--use_deepspeed``, ``--resume``, ``--init_param``, ``--freeze_param``, ``--use_amp``, ...);
``--print_config`` shows every option with its default.
"""

from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask


def get_parser():
    return BloomzMMSTask.get_parser()


def main(cmd=None):
    BloomzMMSTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
