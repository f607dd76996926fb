"""NLU task definitions (prompts/nlu.yaml): prompts split around the spoken field, label words."""

import pytest

from espnet2_bloomzmms.data.nlu.tasks import get_task, load_tasks, normalize_answer

GLUE = ["cola", "sst2", "mrpc", "qqp", "stsb", "mnli_matched", "mnli_mismatched", "qnli", "rte", "wnli"]


def test_shipped_tasks():
    tasks = load_tasks()
    assert sorted(tasks) == sorted(GLUE + ["xnli"])
    for task in tasks.values():  # every field can be the spoken one
        texts = {f: f"<{f}>" for f in task.fields}
        for spoken in task.fields:
            prefix, postfix = task.instruction(spoken, texts)
            assert prefix + f"<{spoken}>" + postfix == task.template.format(**texts)
    assert tasks["cola"].metrics == ("mcc",) and tasks["stsb"].metrics == ("pearson", "spearman")
    assert tasks["mrpc"].metrics == tasks["qqp"].metrics == ("accuracy", "f1")


def test_mnli_prompt_and_labels():
    task = get_task("mnli_matched")
    texts = {"premise": "It rains.", "hypothesis": "The street is wet."}
    assert task.instruction("premise", texts) == (
        "", ' \n\nQuestion: Does this imply that "The street is wet."? Yes, no, or maybe?')
    assert task.instruction("hypothesis", texts) == (
        'It rains. \n\nQuestion: Does this imply that "', '"? Yes, no, or maybe?')
    assert [task.gold(i) for i in (0, 1, 2)] == ["Yes", "Maybe", "No"]
    assert task.label_of(" maybe.") == 1 and task.label_of("Perhaps") is None
    with pytest.raises(ValueError, match="GLUE test labels are hidden"):
        task.gold(-1)
    xnli = get_task("xnli")
    assert [xnli.gold(n) for n in ("entailment", "neutral", "contradiction")] == ["Yes", "Maybe", "No"]


def test_regression_and_multiword_answers():
    stsb = get_task("stsb")
    assert stsb.gold("3.800") == "3.8" and stsb.label_of("4.5") == 4.5 and stsb.label_of("six") is None
    assert stsb.label_of("7") is None
    wnli = get_task("wnli")
    assert wnli.label_of("Very confident!") == 1 and normalize_answer('"Not  Confident."') == "not confident"


def test_bad_task_file(tmp_path):
    path = tmp_path / "nlu.yaml"
    path.write_text("tasks:\n  t:\n    fields: [a, b]\n    template: '{a} only'\n    answers: [x, y]\n"
                    "    metrics: [accuracy]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"task t: the template must hold \{b\} exactly once"):
        load_tasks(path)
    path.write_text("tasks:\n  t:\n    fields: [a]\n    template: '{a}'\n    answers: [x, y]\n"
                    "    metrics: [bleu]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown metrics"):
        load_tasks(path)
    with pytest.raises(KeyError, match="unknown NLU task 'boolq'"):
        get_task("boolq")
