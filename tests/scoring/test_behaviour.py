"""Behaviour metrics: instruction following, refusals, loops, length ratio, source copies."""

import pytest

from espnet2_bloomzmms.scoring.behaviour import has_loop, in_language, markdown_table, score


def test_script_check():
    assert in_language("Das Wetter ist schön", "de_de") is True
    assert in_language("Погода хорошая", "de") is False
    assert in_language("आज मौसम अच्छा है", "hi") is True and in_language("آج موسم اچھا ہے", "hi") is False
    assert in_language("今日はいい天気です", "ja") is True and in_language("2024", "en") is False
    assert in_language("anything", "tlh") is None


def test_loops():
    assert has_loop("I think I think I think I think so")
    assert not has_loop("a perfectly ordinary sentence with several words in it")
    assert has_loop("哈哈哈哈哈哈哈哈哈哈") and not has_loop("今天天气很好。")
    assert not has_loop("la la la la la la", reference="la la la la la la")  # the reference sings too


def test_translation_behaviour():
    refs = {"u1": "Das Wetter ist schön.", "u2": "Wo ist der Bahnhof?", "u3": "Ich weiß.", "u4": "Gut."}
    hyps = {"u1": "Das Wetter ist schön.", "u2": "Где вокзал?", "u3": "I'm sorry, I cannot translate that."}
    result = score(hyps, refs, expected_langs=dict.fromkeys(refs, "de"),
                   sources={"u1": "The weather is nice.", "u2": "Where is the station?",
                            "u3": "I'm sorry, I cannot translate that.", "u4": "Good."})
    follows = result["instruction_following"]
    assert (follows["count"], follows["checked"], follows["failed_ids"]) == (2, 4, ["u2", "u4"])  # u4: empty
    assert result["refusals"]["ids"] == ["u3"] and result["source_copies"]["ids"] == ["u3"]
    assert result["empty_outputs"]["ids"] == ["u4"] and result["repetition_loops"]["count"] == 0
    # characters: (21 + 11 + 35 + 0) / (21 + 19 + 9 + 4)
    assert result["length_ratio"] == pytest.approx(67 / 53)


def test_label_set_and_groups():
    refs = {"a": "Yes", "b": "No", "c": "Maybe"}
    hyps = {"a": "yes.", "b": "No way, no way, no way, no way, no way", "c": "Maybe"}
    result = score(hyps, refs, answers=["Yes", "No", "Maybe"], groups={"a": "en", "b": "en", "c": "de"})
    assert result["instruction_following"]["rate"] == pytest.approx(2 / 3)
    assert result["repetition_loops"]["ids"] == ["b"] and result["criterion"] == "answer in the label set"
    assert result["groups"]["en"]["instruction_following"]["rate"] == pytest.approx(1 / 2)
    assert result["groups"]["de"]["instruction_following"]["rate"] == 1.0
    table = markdown_table({"sys": result})
    assert "| sys | 66.7 | 0.0 | 33.3 | 0.0 | – |" in table and "| sys / de | 100.0 |" in table


def test_unknown_languages_are_left_out():
    result = score({"a": "hello", "b": "hi"}, {"a": "x", "b": "y"}, expected_langs={"a": "en", "b": "tlh"})
    assert result["instruction_following"]["checked"] == 1 and result["instruction_following"]["unknown_language"] == 1
