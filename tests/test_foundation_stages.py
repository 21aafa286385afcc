"""Leakage, taxonomy coverage, dedup and split determinism, on the real corpus where it matters."""

import pytest

from pipelines.corpus.cleaning import LeakageError, clean, find_leaks
from pipelines.corpus.duplicates import deduplicate
from pipelines.dataset import assign_splits
from pipelines.labels.labelling import label_reviews
from pipelines.labels.taxonomy import load_contract, load_taxonomy, normalise_keyword
from pipelines.records import Review

from .conftest import ROOT


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy(ROOT / "data/taxonomy.yaml", ROOT / "data/taxonomy_contract.md")


def test_no_label_leaks_into_text_on_real_corpus(corpus_reviews):
    reviews, _ = corpus_reviews
    listed = [r for r in reviews if r.keywords]
    assert len(listed) >= 345
    for review in reviews:
        assert find_leaks(review) == [], review.review_id
        lowered = review.text.lower()
        assert "keywords" not in lowered or review.form == "document"
        assert "read the overview report" not in lowered and "read the executive summary" not in lowered


def test_leak_guard_fails_loudly():
    bad = Review("r1", "s", text="Death of a child. Keywords: child deaths, suicide", keywords=["child deaths"])
    from pipelines.config import CleanConfig

    with pytest.raises(LeakageError):
        clean([bad], CleanConfig())


def test_every_corpus_keyword_is_mapped_or_ignored(corpus_reviews, taxonomy):
    reviews, _ = corpus_reviews
    _, report = label_reviews(reviews, taxonomy)
    assert report["unmapped_keywords"] == {}


def test_mapping_uses_only_contract_ids_and_covers_all_of_them(taxonomy):
    contract = load_contract(ROOT / "data/taxonomy_contract.md")
    assert len(contract["harm_type"]) == 13 and len(contract["learning_theme"]) == 22
    used = {label for ids in taxonomy.mapping.values() for label in ids}
    assert used == set(contract["harm_type"]) | set(contract["learning_theme"])


def test_aliases_fix_known_typos(taxonomy):
    labels, unmapped = taxonomy.map_keywords(["C hild deaths", "Non-accidental had injuries", "Self-Harm."])
    assert unmapped == []
    assert labels["harm_type"] == ["physical_abuse", "suicide_self_harm"]
    assert normalise_keyword(" Asperger\u2019s  Syndrome ") == "asperger's syndrome"


def test_unknown_keyword_is_reported(taxonomy):
    _, unmapped = taxonomy.map_keywords(["child neglect", "quantum safeguarding"])
    assert unmapped == ["quantum safeguarding"]


def _review(rid, title, text, year=2023, keywords=(), area=""):
    return Review(
        rid,
        f"{rid}.txt",
        title=title,
        year=year,
        area=area,
        text=text,
        keywords=list(keywords),
        form="listing" if keywords else "monthly",
    )


def test_dedup_merges_same_text_but_not_same_title():
    story = (
        "Death of a 15-week-old baby boy in July 2021 while sleeping on a sofa with his father. "
        "Learning includes: safer sleep advice should be given to fathers as well as mothers."
    )
    other = (
        "Sexual abuse of a teenage boy by a family friend over several years. Learning includes: "
        "professionals should listen to what children tell them and record disclosures."
    )
    reviews = [
        _review("a", "John", story, keywords=["sleeping behaviour"], area="Islands"),
        _review("b", "John", story + " Recommendations include: review the safer sleep pathway.", year=None),
        _review("c", "John", other, year=2019, keywords=["child sexual abuse"]),
    ]
    kept, merges = deduplicate(reviews)
    assert [r.review_id for r in kept] == ["a", "c"]
    assert merges[0].kept.review_id == "a" and [d.review_id for d in merges[0].dropped] == ["b"]


def test_dedup_on_real_corpus_merges_monthly_page_into_listing(corpus_reviews):
    reviews, _ = corpus_reviews
    kept, merges = deduplicate(list(reviews))
    dropped_sources = {d.source.split(":")[0] for m in merges for d in m.dropped}
    assert any(s.startswith("002_") for s in dropped_sources)
    assert not any(r.source.startswith("002_") for r in kept)  # every monthly review is also in the listing
    johns = [r for r in kept if r.title == "John"]
    assert {r.year for r in johns} >= {2019, 2023}  # same title, different reviews: both kept


def test_split_is_temporal_and_deterministic():
    vocab = {"harm_type": ["a", "b"], "learning_theme": ["x"]}
    rows = [
        {
            "review_id": f"r{i}",
            "year": 2019 + i % 5,
            "keywords": ["k"],
            "harm_type": ["a"] if i % 2 else ["b"],
            "learning_theme": ["x"] if i % 3 else [],
        }
        for i in range(60)
    ]
    rows.append({"review_id": "u", "year": 2020, "keywords": [], "harm_type": [], "learning_theme": []})
    first = assign_splits(rows, vocab, 2022, [2023], 0.2, 3, seed=7)
    second = assign_splits(rows, vocab, 2022, [2023], 0.2, 3, seed=7)
    assert first.split == second.split and first.fold == second.fold
    year = {r["review_id"]: r["year"] for r in rows}
    assert all(year[r] == 2023 for r, s in first.split.items() if s == "test")
    assert all(year[r] <= 2022 for r, s in first.split.items() if s in ("train", "validation"))
    assert first.split["u"] == "unlabelled"
    assert {f for r, f in first.fold.items() if first.split[r] == "train"} == {0, 1, 2}
