"""Template pools and their reproducible draws."""

import pytest

from espnet2_bloomzmms.instructions import Template, draw_templates, read_templates

POOL = "T\trepeat\ttrain\tRepeat the sentence: \t. \nq1\tlanguage\ttrain\t\t\\nWhich language is this, {lang}?\nh1\trepeat\theldout\tSay: \t\n"


def test_read_templates_keeps_spaces_and_unescapes_newlines(tmp_path):
    path = tmp_path / "pool.tsv"
    path.write_text(POOL, encoding="utf-8")
    t, q, h = read_templates(path)
    assert (t.prefix, t.postfix) == ("Repeat the sentence: ", ". ")
    assert q.render("German") == ("", "\nWhich language is this, German?")
    assert h.split == "heldout"


def test_bad_rows_are_named(tmp_path):
    path = tmp_path / "pool.tsv"
    path.write_text("T\trepeat\ttrain\tonly four\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"pool.tsv:1: expected 5"):
        read_templates(path)
    path.write_text(POOL + POOL, encoding="utf-8")
    with pytest.raises(ValueError, match="duplicate template ids"):
        read_templates(path)


def test_draws_are_distinct_reproducible_and_independent_of_other_utterances():
    pool = [Template(f"t{i}", "repeat", "train", f"p{i} ", "") for i in range(6)]
    draws = draw_templates(["a", "b", "c"], pool, k=2, seed=3)
    assert all(len(set(ts)) == 2 for ts in draws.values())
    assert draws == draw_templates(["c", "b", "a"], pool, k=2, seed=3)
    assert draws["a"] == draw_templates(["a"], pool, k=2, seed=3)["a"]
    assert draws != draw_templates(["a", "b", "c"], pool, k=2, seed=4)
    with pytest.raises(ValueError, match="cannot draw 7"):
        draw_templates(["a"], pool, k=7, seed=0)
