#!/usr/bin/env bash
# Corpus-only adaptation, measured (docs/guides/adapt-to-corpus.md): train a reranker from the
# SciFact abstracts alone (queries made from titles and sentences; no judged claim is read), then
# measure it once on the development claims against the first stage.
# Usage: bash experiments/corpus_only.sh SCIFACT_DIR   (about 20 minutes on 2 CPU cores)
# Writes runs/corpus-only/ (the artifact, summary.json) and runs/corpus-only-dev/ (the eval
# report); docs/scripts/corpus_only_report.py turns both into the docs' table.
# shellcheck source=experiments/_lib.sh
. "$(dirname "$0")/_lib.sh"
data="${1:?usage: bash experiments/corpus_only.sh SCIFACT_DIR}"
if [ ! -f runs/corpus-only/summary.json ]; then
  # Settings: the bundled recipe's (full fine-tune, softmax loss, lr 5e-5, 256 tokens), with
  # fewer negatives per list and 1,500 of the 5,183 abstracts, so it fits a CPU session; none
  # was tuned on any judged claim.
  rerank-plugins train --corpus "$data" --synthetic title,cloze --roundtrip-k 20 \
    --max-documents 1500 --method full --head-lr-scale 10 --learning-rate 5e-5 --batch-size 4 \
    --candidates 20 --hard-negatives 3 --random-negatives 2 --epochs 1 --eval-steps 150 \
    --max-length 256 --loss softmax --autocast bf16 --attention-dropout 0 --precision float16 \
    --seed 0 --threads 2 --no-progress --output runs/corpus-only
fi
measure_dev "$data" corpus-only
