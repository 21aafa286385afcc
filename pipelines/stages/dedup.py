"""Stage `dedup`: merge the same review seen on several pages; list every merge (`pipelines.corpus.duplicates`)."""

from __future__ import annotations

import logging

from pipelines.config import DedupConfig, load_section
from pipelines.corpus.duplicates import deduplicate
from pipelines.corpus.origin import is_added
from pipelines.records import read_reviews, write_json, write_reviews
from pipelines.stages.arguments import stage_arguments

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    args = stage_arguments(__doc__, argv, "reviews", "out", "report")
    config = load_section("dedup", DedupConfig)
    reviews = read_reviews(args.reviews)
    corpus = [r for r in reviews if not is_added(r)]
    kept, merges = deduplicate(corpus, config.shingle_size, config.containment, config.same_title_containment)
    # added reviews are deduplicated among themselves only: merged with a corpus review, the richer added
    # record could be kept and the corpus id that corrections point at would vanish
    ids = {r.review_id for r in kept}
    added = [r for r in reviews if is_added(r)]
    repeated = [r for r in added if r.review_id in ids]
    kept_added, merged_added = deduplicate(
        [r for r in added if r.review_id not in ids],
        config.shingle_size,
        config.containment,
        config.same_title_containment,
    )
    kept += kept_added
    merges += merged_added
    report = {
        "input": len(reviews),
        "output": len(kept),
        "added": {"input": len(added), "kept": len(kept_added)},
        "skipped": [
            {
                "review_id": r.review_id,
                "source": r.source,
                "reason": "added, but the same text is already in the corpus",
            }
            for r in repeated
        ],
        "merges": [m.to_dict() for m in merges],
    }
    write_reviews(args.out, kept)
    write_json(args.report, report)
    log.info("dedup: %d in, %d out, %d merges", len(reviews), len(kept), len(merges))


if __name__ == "__main__":
    main()
