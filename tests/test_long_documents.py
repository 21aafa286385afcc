"""Full reports read as a reader reads them: sections with roles and offsets, each task reading its
roles, links never evidence, a report without headings read whole with a note, rows carrying
`sections`; summaries read exactly as before."""

from __future__ import annotations

import numpy as np

from pipelines.config import LongDocumentsConfig
from pipelines.corpus.sections import document_sections, has_structure, heading_text, is_link_or_reference
from pipelines.long_documents import NO_HEADINGS, evidence, read, views_of
from pipelines.modeling.kinds.lexicon import LexiconClassifier

from .conftest import ROOT

REPORT = """Anytown Safeguarding Children Partnership
Child Safeguarding Practice Review: Child Z

Contents
1. Introduction ........ 2
2. Methodology ........ 3
3. Recommendations ........ 9

1. Introduction
1.1 This review concerns Child Z, aged 4, who suffered chronic neglect at home.

2. Methodology
2.1 The review panel met four times. Terms of reference covered housing and the police response.

3. Background and family
3.1 The family moved house three times. Police attended a domestic incident in 2019.

4. Chronology of professional involvement
4.1 On 3 March 2020 the health visitor saw Child Z. 4.2 The police attended the home again.

5. Analysis and findings
5.1 Early help
5.2 Professionals did not share information about the neglect with the school.

6. Learning
Practitioners must share information about neglect promptly.

7. Recommendations
7.1 The partnership should review its information sharing protocol.

References
[Working Together to Safeguard Children (publishing.service.gov.uk)](#)

Glossary
CSC Children's social care
"""


def test_sections_have_roles_headings_and_offsets():
    sections = document_sections(REPORT)
    roles = [s.role for s in sections]
    assert roles == [
        "front_matter",
        "contents",
        "introduction",
        "methodology",
        "background",
        "chronology",
        "analysis",  # "5.1 Early help" is a subsection of the findings, not a role of its own
        "learning",
        "recommendations",
        "references",
        "glossary",
    ]
    assert sections[0].start == 0 and sections[-1].end == len(REPORT)
    assert all(a.end == b.start for a, b in zip(sections, sections[1:], strict=False))  # the text, cut once
    chronology = next(s for s in sections if s.role == "chronology")
    assert REPORT[chronology.start : chronology.end].startswith("4. Chronology of professional involvement")
    assert "Recommendations ........ 9" in REPORT[sections[1].start : sections[1].end]  # the contents table


def test_heading_forms():
    assert heading_text("## 5. Analysis and findings") == "Analysis and findings"
    assert heading_text("Section 2: Methodology") == "Methodology"
    assert heading_text("IV. CHRONOLOGY OF SIGNIFICANT EVENTS") == "CHRONOLOGY OF SIGNIFICANT EVENTS"
    assert heading_text("4.1 On 3 March 2020 the health visitor saw Child Z. 4.2 The police attended.") is None
    assert heading_text("Practitioners must share information about neglect promptly.") is None


def test_a_report_without_headings_is_read_whole_with_a_note():
    text = " ".join(["The child suffered neglect and the agencies did not share information."] * 200)
    assert not has_structure(document_sections(text))
    (view,) = views_of([text], "learning_theme", [True], LongDocumentsConfig())
    assert view.text == text and view.long and view.note == NO_HEADINGS


def test_each_task_reads_its_roles_and_links_are_never_evidence():
    config = LongDocumentsConfig()
    (theme_view,) = views_of([REPORT], "learning_theme", [True], config)
    (harm_view,) = views_of([REPORT], "harm_type", [True], config)
    assert "Terms of reference" not in theme_view.text and "Police attended a domestic" not in theme_view.text
    assert "protocol" in theme_view.text and "publishing.service" not in theme_view.text
    # harms from the title block, introduction (and summary, conclusion): what the review says happened
    assert "chronic neglect" in harm_view.text and "Child Z" in harm_view.text
    assert "moved house" not in harm_view.text and "protocol" not in harm_view.text
    assert is_link_or_reference("[Working Together (publishing.service.gov.uk)](#)")
    lexicon = LexiconClassifier("learning_theme", ["information_sharing"], lexicon_path=ROOT / "data/lexicon.yaml")
    reading = read(lexicon, "learning_theme", [REPORT], [True], config)
    found = evidence(lexicon, reading, 0, ["information_sharing"], 3)["information_sharing"]
    assert found and all(not is_link_or_reference(REPORT[a:b]) for a, b in found)
    sections = document_sections(REPORT)
    theme_roles = {s.role for s in sections for a, _ in found if s.start <= a < s.end}
    assert theme_roles <= set(config.theme_roles)


def test_summaries_are_read_whole_at_their_own_thresholds():
    summary = "Learning includes: sharing information between agencies; professional curiosity."
    lexicon = LexiconClassifier("learning_theme", ["information_sharing"], lexicon_path=ROOT / "data/lexicon.yaml")
    lexicon.meta.thresholds = [0.4]
    config = LongDocumentsConfig(theme_threshold_scale=2.0)
    reading = read(lexicon, "learning_theme", [summary], [False], config)
    assert reading.views[0].text == summary and not reading.views[0].long
    np.testing.assert_array_equal(reading.decided, lexicon.decide(lexicon.predict_proba([summary])))
