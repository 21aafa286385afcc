"""One header parser for every reader: a listing entry, the same entry pasted alone, and a report that
starts with its header all get the same title, year, area and id; and no id the corrections or the
gold passes refer to is lost."""

import re

import pytest

from pipelines.corpus.headers import is_header_like, leading_header, parse_header
from pipelines.corpus.listing import parse_listing
from pipelines.corpus.reading import parse_text, read_path
from pipelines.records import make_review_id

from .conftest import RAW, ROOT

FORMS = [
    # header line, (year, area, title), id prefix
    ("2023 – Anonymous – Child A", (2023, "Anonymous", "Child A"), "2023-anonymous-child-a-"),
    ("2023 - Berkshire West - David", (2023, "Berkshire West", "David"), "2023-berkshire-west-david-"),
    ("2023– Guernsey and Alderney – John", (2023, "Guernsey and Alderney", "John"), "2023-guernsey-and-alderney-john-"),
    ("2023 – Kirklees – Paul – Child Q", (2023, "Kirklees", "Paul – Child Q"), "2023-kirklees-paul-child-q-"),
    ("2022 — Stockton-on-Tees — Baby B", (2022, "Stockton-on-Tees", "Baby B"), "2022-stockton-on-tees-baby-b-"),
    ("December 2013 - Derbyshire - BDS12", (2013, "Derbyshire", "BDS12"), "2013-derbyshire-bds12-"),
    ("2024 - Somewhere - Child X", (2024, "Somewhere", "Child X"), "2024-somewhere-child-x-"),
    ("Sept 2015\u00a0–\u00a0Hull – Child S", (2015, "Hull", "Child S"), "2015-hull-child-s-"),
]
SUMMARY = (
    "Death of a 15-year-old boy. He had been excluded from school and was exploited by older young people. "
    "Learning includes: professional curiosity about exploitation and sharing information between police "
    "and children's social care. Recommendations include: a review of the exclusion policy. "
    "Keywords: child criminal exploitation, school exclusion"
)
REPORT_BODY = "\n\n".join(
    f"{k}. The review heard from practitioners about the months before the incident; "
    "the family moved twice and the school raised concerns that were not shared with health." * 3
    for k in range(1, 40)
)


@pytest.mark.parametrize(("line", "parts", "prefix"), FORMS)
def test_each_header_form(line, parts, prefix):
    header = parse_header(line)
    assert (header.year, header.area, header.title) == parts
    assert make_review_id(header.year, header.area, header.title, "body").startswith(prefix)


@pytest.mark.parametrize(("line", "parts", "prefix"), FORMS)
def test_a_pasted_entry_and_a_report_starting_with_it_read_the_header_alike(line, parts, prefix):
    entry = parse_text(f"{line}\n\n{SUMMARY}\n", "upload.txt")
    report = parse_text(f"{line}\n\n{REPORT_BODY}\n", "upload.txt")
    assert entry.parser == "listing" and report.parser == "document"
    for result in (entry, report):
        (review,) = result.reviews
        assert (review.year, review.area, review.title) == parts
        assert review.review_id.startswith(prefix)
        assert result.found == len(result.reviews) + len(result.skipped)
    assert report.reviews[0].text.rstrip().endswith(REPORT_BODY[-200:])  # the whole report, not its first paragraph
    assert not report.skipped  # its header is parsed, not skipped


def test_markdown_around_a_pasted_header():
    (review,) = parse_text(f"# **December 2013 - Derbyshire - BDS12**\n\n{REPORT_BODY}", "notes.md").reviews
    assert (review.year, review.area, review.title) == (2013, "Derbyshire", "BDS12")


@pytest.mark.parametrize(
    "line",
    ["December 2019 – July 2020 Aged 11-years-old", "2016 - 2020 the family lived in three areas", "Child A – 2023"],
)
def test_date_ranges_and_other_lines_are_no_headers(line):
    assert not is_header_like(line) and parse_header(line) is None


def test_header_without_area_and_title_is_counted_but_not_parsed():
    assert is_header_like("2024 – Somewhere") and parse_header("2024 – Somewhere") is None
    result = parse_text(f"2024 – Somewhere\n\n{SUMMARY}", "upload.txt")
    assert result.parser == "document" and result.reviews[0].year is None
    assert [s.line for s in result.skipped] == [1] and "Area" in result.skipped[0].reason


def test_a_report_with_a_dated_line_inside_stays_one_document():
    text = f"Local Child Safeguarding Practice Review: Child M\n\n{REPORT_BODY}\n\nMarch 2020 – School – Exclusion\n\n"
    text += f"{SUMMARY.split('Keywords')[0]}\n\n{REPORT_BODY}"
    result = parse_text(text, "report.txt")
    assert result.parser == "document" and result.reviews[0].title.endswith("Child M")
    assert result.reviews[0].review_id.startswith("nd-local-child-safeguarding")  # ids as before: no year, no area
    assert [s.line for s in result.skipped] == [text.splitlines().index("March 2020 – School – Exclusion") + 1]


def _entries(text: str, most_lines: int = 8) -> list[str]:
    """The listing page cut at its header lines: each piece is one entry as an analyst would copy it
    (the last one without the rest of the page's footer)."""
    lines = text.splitlines()
    heads = [i for i, line in enumerate(lines) if parse_header(line)]
    ends = [min(b, a + most_lines) for a, b in zip(heads, heads[1:] + [len(lines)], strict=True)]
    return ["\n".join(lines[a:b]) for a, b in zip(heads, ends, strict=True)]


def test_every_pasted_listing_entry_parses_like_the_page(raw_listing_text):
    page = {r.review_id: r for r in parse_listing(raw_listing_text, "004").reviews}
    pasted = [parse_text(entry, "pasted.txt").reviews for entry in _entries(raw_listing_text)]
    assert all(len(reviews) == 1 for reviews in pasted)
    got = {r.review_id: r for (r,) in pasted}
    assert got.keys() == page.keys() and len(page) >= 350
    for review_id, review in got.items():
        same = page[review_id]
        assert (review.title, review.year, review.area, review.keywords) == (
            same.title,
            same.year,
            same.area,
            same.keywords,
        )


def test_a_month_first_listing_page_and_its_uploaded_entry(tmp_path):
    page = "Case reviews published in 2013.\n\n" + "\n\n".join(
        f"{line}\n\n{SUMMARY}" for line, _, _ in FORMS if line.startswith(("December", "Sept"))
    )
    listed = parse_text(page, "page.txt")
    assert listed.parser == "listing" and [r.year for r in listed.reviews] == [2013, 2015]
    upload = tmp_path / "BDS12.txt"
    upload.write_text(f"December 2013 - Derbyshire - BDS12\n\n{SUMMARY}\n", encoding="utf-8")
    (alone,) = read_path(upload).reviews
    assert alone.review_id == listed.reviews[0].review_id and alone.review_id.startswith("2013-derbyshire-bds12-")


def test_leading_header_is_the_first_non_blank_line_only():
    assert leading_header("\n\n2023 – Anytown – Child A\ntext")[0] == 3
    assert leading_header("Contents\n2023 – Anytown – Child A") is None


def test_no_referenced_review_id_is_lost():
    """Every id the reader corrections and gold passes name is still produced from data/raw."""
    produced = {r.review_id for path in sorted(RAW.glob("*.*")) for r in read_path(path).reviews}
    files = [*ROOT.glob("data/corrections/*.jsonl"), *ROOT.glob("data/gold/passes/*.jsonl")]
    referenced = {m for f in files for m in re.findall(r'"review_id":\s*"([^"]+)"', f.read_text(encoding="utf-8"))}
    assert len(referenced) >= 300 and referenced <= produced, sorted(referenced - produced)[:5]
    documents = [r for path in sorted(RAW.glob("00[03]_*.txt")) for r in read_path(path).reviews]
    assert all(r.review_id.startswith(("nd-", f"{r.year}-")) and "Review" in r.title for r in documents)
    assert [r.area for r in documents] == ["Shropshire", "Cheshire East"]


@pytest.mark.parametrize(
    ("head", "year"),
    [
        ("Local Child Safeguarding Practice Review\n\n**Date:** July 2021\n", 2021),
        ("Child Safeguarding Practice Review\nReport date: November 2020\n", 2020),
        ("Serious Case Review\nDate of report: 14 November 2019\n", 2019),
        ("Joint Serious Case Review: Child K\nPublished: September 2019\n", 2019),
        ("Thematic review\nFinal Report \u2013 March 2022\n", 2022),
        ("Child Safeguarding Practice Review\n\nOctober 2022\n\nContents\n", 2022),
        ("Child Safeguarding Practice Review\n\n1.1 In 2019 the family moved to the area.\n", None),
    ],
)
def test_a_reports_own_date_gives_its_year_and_an_event_year_does_not(head, year):
    from pipelines.corpus.headers import report_year

    assert report_year(head) == year
