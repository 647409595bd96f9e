#!/usr/bin/env bash
# Corpus-only adaptation with queries an LLM wrote (InPars / Promptagator; docs/guides/
# adapt-to-corpus.md): Gemma 3 270M writes a claim for each of 1,200 SciFact abstracts
# (experiments/write_queries.py; its few-shot prompt's two examples were invented for it), the round
# trip keeps those the first stage leads back to their abstract, and a reranker trains on them
# with the corpus-only recipe of experiments/corpus_only.sh; then it is measured once on the
# development claims. No claim and no judgement of SciFact is read before that measurement.
# Usage: bash experiments/corpus_written.sh SCIFACT_DIR   (about an hour on 2 CPU cores)
# Writes runs/written/ (queries.jsonl, the artifact, summary.json) and runs/written-dev/.
# shellcheck source=experiments/_lib.sh
. "$(dirname "$0")/_lib.sh"
data="${1:?usage: bash experiments/corpus_written.sh SCIFACT_DIR}"
write_claims "$data"
if [ ! -f runs/written/summary.json ]; then
  # The corpus-only recipe (experiments/corpus_only.sh), two passes over the written lists (there
  # are fewer lists than title + cloze make); nothing tuned on any judged claim.
  rerank-plugins train --corpus "$data" --synthetic written --queries-file runs/written/queries.jsonl \
    --roundtrip-k 20 --method full --head-lr-scale 10 --learning-rate 5e-5 --batch-size 4 \
    --candidates 20 --hard-negatives 3 --random-negatives 2 --epochs 2 --eval-steps 100 \
    --max-length 256 --loss softmax --autocast bf16 --attention-dropout 0 --precision float16 \
    --seed 0 --threads 2 --no-progress --output runs/written
fi
measure_dev "$data" written
