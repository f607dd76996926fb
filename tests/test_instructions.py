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


def test_target_languages_are_drawn_per_utterance_and_template():
    from espnet2_bloomzmms.instructions import draw_target

    t = Template("tr1", "translate", "train", "Translate to {target}: ", "\nIn {target}:")
    plain = Template("sum1", "summarize", "train", "Summarize this {lang} text: ", "")
    names = ["English", "German", "French", "Swahili"]
    with pytest.raises(ValueError, match="tr1 names a {target} language"):
        t.render("German")
    assert plain.render("German") == ("Summarize this German text: ", "") and draw_target("u1", plain, "German", names, 0) is None
    drawn = {u: draw_target(u, t, "German", names, 0) for u in (f"u{i}" for i in range(40))}
    assert set(drawn.values()) == {"English", "French", "Swahili"}  # never the utterance's own language
    assert drawn == {u: draw_target(u, t, "German", names, 0) for u in drawn}  # reproducible
    assert drawn != {u: draw_target(u, t, "German", names, 1) for u in drawn}  # and seeded
    assert t.render("German", drawn["u1"]) == (f"Translate to {drawn['u1']}: ", f"\nIn {drawn['u1']}:")


def test_the_fleurs_pool_follows_the_authors_design():
    """Many MI templates, a large share translation into a drawn {target} language, and
    the evaluation instruction itself held out."""
    from pathlib import Path

    pool = read_templates(Path(__file__).parents[1] / "egs2/fleurs/bloomzmms1/local/data/instructions.tsv")
    train = [t for t in pool if t.split == "train" and t.id != "T"]
    assert len(train) >= 60
    assert sum(t.task == "translate" and t.needs_target for t in train) / len(train) > 0.5
    evaluation = "Translate the following text from"
    assert not any(evaluation in t.prefix + t.postfix for t in train)
    assert any(evaluation in t.prefix and t.split == "heldout" for t in pool)
