"""GLUE metrics of NLU answers, against values computed by hand."""

import math

import pytest

from espnet2_bloomzmms.scoring.nlu import markdown_table, score


def test_accuracy_and_f1_with_an_invalid_answer():
    refs = {"a": "yes", "b": "yes", "c": "no", "d": "no", "e": "yes"}
    hyps = {"a": "Yes.", "b": "no", "c": "no", "d": "yes", "e": "perhaps"}
    result = score("mrpc", refs, hyps)
    # correct: a, c -> 2/5; positive class "yes" (1): TP a, FP d, FN b and e (invalid)
    assert result["metrics"]["accuracy"] == pytest.approx(2 / 5)
    assert result["metrics"]["f1"] == pytest.approx(2 * 1 / (2 * 1 + 1 + 2))
    assert result["invalid"] == 1


def test_mcc():
    refs = {"a": "Yes", "b": "Yes", "c": "No", "d": "No", "e": "Yes"}
    hyps = {"a": "Yes", "b": "Yes", "c": "No", "d": "Yes", "e": "Yes"}
    # acceptable = "Yes" (1): TP 3, TN 1, FP 1, FN 0
    mcc = (3 * 1 - 1 * 0) / math.sqrt((3 + 1) * (3 + 0) * (1 + 1) * (1 + 0))
    assert score("cola", refs, hyps)["metrics"]["mcc"] == pytest.approx(mcc)


def test_stsb_correlations():
    refs = {"a": "1", "b": "2", "c": "3", "d": "4.5"}
    hyps = {"a": "1.0", "b": "2.0", "c": "2.5", "d": "seven"}
    result = score("stsb", refs, hyps)
    # over the valid answers: gold 1, 2, 3 vs 1, 2, 2.5 (d is no number in 0..5)
    gold, pred = [1, 2, 3], [1, 2, 2.5]
    mg, mp = sum(gold) / 3, sum(pred) / 3
    cov = sum((g - mg) * (p - mp) for g, p in zip(gold, pred))
    pearson = cov / math.sqrt(sum((g - mg) ** 2 for g in gold) * sum((p - mp) ** 2 for p in pred))
    assert result["metrics"]["pearson"] == pytest.approx(pearson)
    assert result["metrics"]["spearman"] == pytest.approx(1.0)
    assert result["invalid"] == 1


def test_per_language_and_missing_answers():
    refs = {"en1": "Yes", "en2": "No", "de1": "Maybe", "de2": "No"}
    hyps = {"en1": "Yes", "en2": "Maybe", "de1": "Maybe"}
    result = score("xnli", refs, hyps, langs={"en1": "en", "en2": "en", "de1": "de", "de2": "de"})
    assert result["metrics"]["accuracy"] == pytest.approx(2 / 4)
    assert result["languages"]["en"]["metrics"]["accuracy"] == pytest.approx(1 / 2)
    assert result["languages"]["de"]["metrics"]["accuracy"] == pytest.approx(1 / 2)
    assert result["missing_hypothesis_ids"] == ["de2"] and result["invalid"] == 1
    table = markdown_table({"speech": result})
    assert "| speech | xnli | 50.0 | 4 | 1 |" in table and "| speech | 50.0 | 50.0 | 50.0 |" in table


def test_bad_references():
    with pytest.raises(ValueError, match=r"references are not answers of task rte .* u1='maybe'"):
        score("rte", {"u1": "maybe"}, {"u1": "yes"})
    with pytest.raises(ValueError, match="no reference"):
        score("rte", {"u1": "yes"}, {"u2": "yes"})
