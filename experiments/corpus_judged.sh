#!/usr/bin/env bash
# Corpus + judged claims, measured beside judged claims alone (docs/guides/adapt-to-corpus.md):
# the bundled reranker's recipe (experiments/recipe_search.sh, run B) on the SciFact training claims
# plus lists made from 800 of the abstracts (titles and sentences as queries), early-stopped on the
# judged validation slice (every 8th training claim); then measured once on the development claims.
# Usage: bash experiments/corpus_judged.sh SCIFACT_DIR   (about an hour on 2 CPU cores)
# Writes runs/corpus-judged/ (the artifact, summary.json) and runs/corpus-judged-dev/ (the eval
# report); docs/scripts/corpus_only_report.py adds it to the docs' table.
# shellcheck source=experiments/_lib.sh
. "$(dirname "$0")/_lib.sh"
data="${1:?usage: bash experiments/corpus_judged.sh SCIFACT_DIR}"
if [ ! -f runs/corpus-judged/summary.json ]; then
  # Settings: run B's, unchanged; the corpus share (800 documents) was set by the time a CPU
  # session allows, not tuned.
  rerank-plugins train --beir "$data" --corpus "$data" --synthetic title,cloze --roundtrip-k 20 \
    --max-documents 800 --method full --head-lr-scale 10 --learning-rate 5e-5 --batch-size 4 \
    --candidates 20 --max-positives 1 --rounds 3 --epochs 1 --eval-steps 100 \
    --validation-every 8 --max-length 256 --loss softmax --hard-negatives 4 --bm25-negatives 2 \
    --random-negatives 3 --autocast bf16 --attention-dropout 0 --precision float16 --seed 0 \
    --threads 2 --no-progress --no-dev-report --output runs/corpus-judged
fi
measure_dev "$data" corpus-judged
