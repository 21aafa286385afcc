"""PDF headings from the text layer's fonts: lines set larger or bold become headings that text
patterns alone miss, the document text (and so every offset into it) stays what pypdf extracts, and
text without fonts is read by its patterns as before."""

from pathlib import Path

from fpdf import FPDF
from pypdf import PdfReader

from pipelines.corpus.pdf_headings import effective_size, is_bold
from pipelines.corpus.reading import read_path
from pipelines.corpus.sections import document_sections, has_structure
from pipelines.tagging import collect_reviews

BODY = {
    "amy": "Amy was three years old when she was taken to hospital with a head injury that her mother "
    "could not explain. She had been seen by her health visitor a week before. ",
    "found": "Professionals did not share what they knew about the father's violence, and the school did "
    "not know that the family had moved twice in a year. ",
    "recs": "The partnership should make sure that health visitors ask about fathers and that schools "
    "are told when a child on a plan moves into the area. ",
}
HEADINGS = {  # heading → role; sentence case, so no text pattern takes them for headings
    "What happened to Amy": "chronology",
    "Findings of the review": "analysis",
    "Recommendations to the partnership": "recommendations",
}
RUNNING_HEADER = "Safeguarding review: Amy"


class _Report(FPDF):
    def header(self) -> None:  # a bold line on every page: a running header, no heading
        self.set_font("Helvetica", "B", 11)
        self.cell(0, 6, RUNNING_HEADER, new_x="LMARGIN", new_y="NEXT")


def _write(pdf: FPDF, text: str, size: int, style: str = "") -> None:
    pdf.set_font("Helvetica", style, size)
    pdf.multi_cell(0, size * 0.55, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def make_report(path: Path, styled: bool = True) -> Path:
    """A three-page report: a title, then each heading over a few body paragraphs."""
    pdf = _Report()
    pdf.add_page()
    _write(pdf, "Local child safeguarding practice review", 20 if styled else 11, "B" if styled else "")
    for (heading, _), body in zip(HEADINGS.items(), BODY.values(), strict=True):
        _write(pdf, heading, 16 if styled else 11, "B" if styled else "")
        for _ in range(3):
            _write(pdf, body * 3, 11)
        _write(pdf, "This sentence is set in bold for emphasis only.", 11, "B")
        pdf.add_page()
    pdf.output(str(path))
    return path


def test_font_headings_get_their_roles_where_text_patterns_find_none(tmp_path):
    (review,) = read_path(make_report(tmp_path / "amy.pdf")).reviews
    assert {review.heading_lines[h] for h in HEADINGS} == {1}  # larger than the body: top level
    assert RUNNING_HEADER not in review.heading_lines  # on every page
    assert not any("emphasis" in line for line in review.heading_lines)  # a bold sentence
    found = {s.heading: s.role for s in document_sections(review.text, review.heading_lines)}
    assert {h: found.get(h) for h in HEADINGS} == HEADINGS
    as_text = tmp_path / "amy.txt"
    as_text.write_text(review.text, encoding="utf-8")
    (plain,) = read_path(as_text).reviews
    assert plain.text == review.text and plain.heading_lines is None
    assert not has_structure(document_sections(plain.text))  # the same text without fonts: no headings


def test_document_text_is_what_pypdf_extracts_and_sections_point_into_it(tmp_path):
    path = make_report(tmp_path / "amy.pdf")
    (review,) = read_path(path).reviews
    assert review.text == "\n\n".join(page.extract_text() for page in PdfReader(path).pages)
    sections = document_sections(review.text, review.heading_lines)
    for section in sections:
        assert review.text[section.start : section.end].startswith(section.heading)
    assert "heading_lines" not in review.to_dict()


def test_hints_survive_cleaning_on_the_tag_path(tmp_path):
    """`reviewtag tag` cleans the text before cutting it; the hint still finds its lines."""
    errors: list[tuple[str, str]] = []
    collected = collect_reviews([str(make_report(tmp_path / "amy.pdf"))], lambda s, m: errors.append((s, m)))
    (review,) = collected.reviews
    assert not errors and review.heading_lines
    roles = [s.role for s in document_sections(review.text, review.heading_lines)]
    assert roles == ["front_matter", "chronology", "analysis", "recommendations"]


def test_a_pdf_in_one_font_keeps_its_text_patterns(tmp_path):
    pdf = FPDF()
    pdf.add_page()
    headings = ["Background", "Findings", "Recommendations"]
    for number, (heading, body) in enumerate(zip(headings, BODY.values(), strict=True), 1):
        _write(pdf, f"{number}. {heading}", 11)
        _write(pdf, body * 3, 11)
    pdf.output(str(tmp_path / "plain.pdf"))
    (review,) = read_path(tmp_path / "plain.pdf").reviews
    assert review.heading_lines is None
    roles = [s.role for s in document_sections(review.text, review.heading_lines)]
    assert roles == ["background", "analysis", "recommendations"]


def test_font_size_and_weight():
    identity = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    assert effective_size(1, identity, [12.0, 0.0, 0.0, 12.0, 72.0, 700.0]) == 12.0  # size 1, scaled by Tm
    assert effective_size(10, [2.0, 0.0, 0.0, 2.0, 0.0, 0.0], identity) == 20.0  # scaled by cm
    assert is_bold({"/BaseFont": "/ABCDEF+Arial-BoldMT"}) and is_bold({"/BaseFont": "/Helvetica-Bold"})
    assert is_bold({"/BaseFont": "/F1", "/FontDescriptor": {"/FontWeight": 700}})
    assert not is_bold({"/BaseFont": "/TimesNewRomanPSMT"}) and not is_bold(None)
