"""BLEU / chrF per language pair and overall, against values computed by hand."""

import pytest

from espnet2_bloomzmms.scoring.translation import markdown_table, score

PAIRS = {"u1": ("en", "de"), "u2": ("en", "fr")}


def test_bleu_per_pair_and_overall():
    refs = {"u1": "a b c d e f", "u2": "g h i j"}
    result = score(refs, {"u1": "a b c d x y", "u2": "g h i j"}, PAIRS)
    # u1: n-gram precisions 4/6, 3/5, 2/4, 1/3; same length (BP 1); geometric mean
    assert result["pairs"]["en-de"]["bleu"]["score"] == pytest.approx(100 * (4 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25)
    assert result["pairs"]["en-fr"]["bleu"]["score"] == pytest.approx(100.0)
    # corpus level: counts add up over both pairs: 8/10, 6/8, 4/6, 2/4
    assert result["bleu"]["score"] == pytest.approx(100 * (8 / 10 * 6 / 8 * 4 / 6 * 2 / 4) ** 0.25)
    assert result["bleu"]["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert result["chrf"]["signature"].startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:")
    assert result["utterances"] == 2 and result["missing_hypotheses"] == 0


def test_chrf_per_pair_and_overall():
    result = score({"u1": "abc", "u2": "ab"}, {"u1": "abd", "u2": "ab"}, PAIRS)
    # u1: char 1-gram P = R = 2/3, 2-gram 1/2, 3-gram 0 (no 4..6-grams): mean 7/18 = F
    assert result["pairs"]["en-de"]["chrf"]["score"] == pytest.approx(100 * 7 / 18)
    assert result["pairs"]["en-fr"]["chrf"]["score"] == pytest.approx(100.0)
    # overall: 1-grams 4/5, 2-grams 2/3, 3-grams 0/1
    assert result["chrf"]["score"] == pytest.approx(100 * (4 / 5 + 2 / 3 + 0) / 3)


def test_missing_hypothesis_is_empty_and_counted():
    result = score({"u1": "a b c d", "u2": "g h i j"}, {"u2": "g h i j"}, PAIRS)
    assert result["missing_hypothesis_ids"] == ["u1"]
    assert result["pairs"]["en-de"]["bleu"]["score"] == 0.0 and result["pairs"]["en-de"]["bleu"]["sys_len"] == 0


def test_tokenizer_follows_the_target_language():
    result = score({"u1": "我爱你", "u2": "a b"}, {"u1": "我爱你", "u2": "a b"},
                   {"u1": ("en", "zh-CN"), "u2": ("en", "de")})
    assert "tok:zh" in result["pairs"]["en-zh-CN"]["bleu"]["signature"]
    assert "tok:13a" in result["pairs"]["en-de"]["bleu"]["signature"]
    assert "tok:13a" in result["bleu"]["signature"]  # mixed targets: 13a overall
    forced = score({"u1": "ab"}, {"u1": "ab"}, {"u1": ("en", "ja")}, tokenize="char")
    assert "tok:char" in forced["bleu"]["signature"]


def test_errors_and_table():
    with pytest.raises(ValueError, match="no reference"):
        score({"u1": "a"}, {"u9": "a"}, PAIRS)
    with pytest.raises(ValueError, match="1 of 1 utterances have no language pair"):
        score({"u3": "a"}, {}, PAIRS)
    result = score({"u1": "a b c d e f"}, {"u1": "a b c d x y"}, PAIRS)
    table = markdown_table({"sys": result})
    assert "| system | en-de | all | Snt |" in table and "| sys | 50.81 | 50.81 | 1 |" in table
    assert f"`{result['bleu']['signature']}`" in table
