from pipelines.text import clean_text, drop_truncated_tail, split_sentences


def test_unicode_quotes_dashes_ligatures_and_footnotes():
    assert (
        clean_text("The \ufb01rst \u201cchild\u201d \u2013 Kitching\u00b9 said") == 'The first "child" - Kitching said'
    )


def test_broken_words_and_paragraphs_are_rejoined():
    assert clean_text("infor-\nmation sharing") == "information sharing"
    assert clean_text("professionals need to be empowered to\n\nchallenge each other.") == (
        "professionals need to be empowered to challenge each other."
    )
    assert clean_text("First paragraph.\n\nSecond paragraph.") == "First paragraph.\n\nSecond paragraph."


def test_link_boilerplate_is_removed():
    assert clean_text("A summary. > Read the overview report") == "A summary."
    assert clean_text("A summary.\nOther resources Read practice review (PDF)") == "A summary."


def test_truncated_tail():
    assert drop_truncated_tail("background and contextual infor") == "background and contextual"
    assert drop_truncated_tail("A full sentence.") == "A full sentence."


def test_sentences_keep_abbreviations_together():
    text = "Child A was seen by Dr. Smith, e.g. at home. She was 3. The GP referred her.\nNew paragraph here"
    assert split_sentences(text) == [
        "Child A was seen by Dr. Smith, e.g. at home.",
        "She was 3.",
        "The GP referred her.",
        "New paragraph here",
    ]
