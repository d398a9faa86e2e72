"""Recipes of the summarization app's shipped data: Debian package descriptions -> synopses split
on package groups (:mod:`~apps.summarization.datasets.debian`), research abstracts -> titles
(:mod:`~apps.summarization.datasets.abstracts`) and long Wikipedia articles -> lead sections
(:mod:`~apps.summarization.datasets.wikipedia`), both test-only transfer sets, and gensim's Lee
background corpus, unlabelled pretraining text (:mod:`~apps.summarization.datasets.lee`)."""
