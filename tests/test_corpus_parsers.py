import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.corpus.listing import HEADER, parse_listing
from pipelines.corpus.monthly import parse_monthly
from pipelines.corpus.reading import parse_text

from .conftest import FIXTURES, RAW


def _nasty():
    return parse_text((FIXTURES / "listing_nasty.txt").read_text(encoding="utf-8"), "nasty.txt")


def test_listing_headers_with_any_dash_and_spacing():
    result = _nasty()
    assert result.parser == "listing"
    got = [(r.year, r.area, r.title) for r in result.reviews]
    assert got == [
        (2023, "Anytown", "Child A"),
        (2023, "Otherplace", "Baby B"),
        (2023, "Stockton-on-Tees", "Paul – Child Q"),  # hyphenated area survives, title keeps its dash
        (2022, "Anonymous", "Marie"),
        (2022, "Somewhere", "Child RN19"),  # em dash
    ]


def test_keywords_separators_tails_and_glue():
    by_title = {r.title: r for r in _nasty().reviews}
    assert by_title["Child A"].keywords == ["child deaths", "suicide", "child sexual abuse"]
    assert by_title["Baby B"].keywords == ["sleeping behaviour", "sudden infant death", "c hild deaths"]
    assert by_title["Paul – Child Q"].keywords == ["bruises", "voice of the child", "infants", "physical abuse"]
    assert by_title["Marie"].keywords == []  # cut off before its keywords


def test_sections_are_split_and_links_dropped():
    child_a = _nasty().reviews[0]
    assert child_a.summary.startswith("Death of a 16-year-old girl")
    assert child_a.learning.startswith("interagency working")
    assert child_a.recommendations.startswith("a multi-agency reflective")
    assert "Read the overview report" not in child_a.text and "Keywords" not in child_a.text


def test_multi_paragraph_body_is_joined():
    marie = _nasty().reviews[3]
    assert "Learning includes" in marie.text and marie.summary.startswith("Death of a 16-year-old")


def test_every_header_is_accounted_for():
    result = _nasty()
    assert result.found == len(result.reviews) + len(result.skipped) == 7
    reasons = {s.line: s.reason for s in result.skipped}
    assert "Area" in reasons[31] and "not a review summary" in reasons[35]


def test_real_listing_counts(raw_listing_text):
    result = parse_listing(raw_listing_text, "004")
    header_lines = [line for line in raw_listing_text.splitlines() if HEADER.match(line)]
    assert result.found == len(header_lines)
    assert sum(bool(r.keywords) for r in result.reviews) >= 345
    assert {r.year for r in result.reviews} == {2019, 2020, 2021, 2022, 2023}
    # no navigation or news junk became a review
    assert not any(re.search(r"Montana|Subscribe|Privacy", r.text) for r in result.reviews)


def test_monthly_page():
    text = next(RAW.glob("002_*.txt")).read_text(encoding="utf-8")
    result = parse_monthly(text, "002")
    assert [r.title for r in result.reviews] == [
        "John",
        "Child A",
        "Kubus",
        "Lloyd and Mark",
        "Child Angela",
        "Jacob 22",
    ]
    assert all(r.year == 2023 and r.learning for r in result.reviews)
    assert all("Other resources" not in r.text for r in result.reviews)


def test_full_reports_are_one_document_each():
    for path in list(RAW.glob("000_*.txt")) + list(RAW.glob("003_*.txt")):
        result = parse_text(path.read_text(encoding="utf-8"), path.name)
        assert result.parser == "document" and len(result.reviews) == 1
        assert "Review" in result.reviews[0].title
        assert len(result.reviews[0].text) > 30000  # the whole text is kept


header_line = st.builds(
    lambda y, sep, a, t: f"{y}{sep}{a}{sep}{t}",
    st.integers(1990, 2030).map(str),
    st.sampled_from([" – ", " - ", "–", " — ", "\u00a0–\u00a0"]),
    st.text(min_size=0, max_size=20),
    st.text(min_size=0, max_size=20),
)
page = st.lists(
    st.one_of(header_line, st.text(max_size=300), st.just(""), st.just("Learning includes: x. Keywords: a, b")),
    max_size=30,
).map("\n".join)


@settings(max_examples=150, deadline=None)
@given(page)
def test_parsers_never_crash_and_account_for_every_header(text):
    listing = parse_listing(text, "p")
    headers = [line for line in text.splitlines() if HEADER.match(line)]
    assert listing.found == len(headers)
    result = parse_text(text, "p")
    assert result.found == len(result.reviews) + len(result.skipped)
    for review in result.reviews:
        assert "keywords:" not in review.text.lower() or result.parser == "document"
