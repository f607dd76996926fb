"""Language names/scripts (prompts/languages.tsv) and the speech-translation instruction."""

import pytest

from espnet2_bloomzmms.data.languages import base_code, language_name, language_scripts, sacrebleu_language
from espnet2_bloomzmms.data.translation import instruction


def test_codes_of_each_corpus_resolve():
    assert [base_code(c) for c in ("en_us", "cmn_hans_cn", "zh-CN", "sv-SE", "es_419", "ast_es", "xx")] == [
        "en", "cmn", "zh", "sv", "es", "ast", None]
    assert language_name("cmn_hans_cn") == language_name("zh-CN") == "Chinese"
    assert language_scripts("ja") == ("Han", "Hiragana", "Katakana") and language_scripts("xx") is None
    assert [sacrebleu_language(c) for c in ("zh-CN", "ja", "ko_kr", "de", "sr_rs")] == ["zh", "ja", "ko", "", ""]


def test_translation_instruction():
    assert instruction("en", "de") == ("Translate the following text from English to German\n", "\n")
    assert instruction("en_us", "hi_in", names={"en_us": "US English"})[0] == (
        "Translate the following text from US English to Hindi\n")
    with pytest.raises(KeyError, match="no English name for language code 'tlh'"):
        instruction("tlh", "en")
