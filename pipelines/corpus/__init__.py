"""The corpus: readers that turn raw inputs (listing pages, monthly pages, full reports) into `Review`
records (`reading`), the raw folder read with a full account (`raw`), cleaning with the leakage guard
(`cleaning`) and near-duplicate merging (`duplicates`)."""
