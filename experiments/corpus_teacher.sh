#!/usr/bin/env bash
# Corpus-only adaptation with a teacher (GPL's recipe, with an LLM as the teacher; docs/guides/
# adapt-to-corpus.md): the claims Gemma 3 270M wrote for 1,200 SciFact abstracts (made by
# experiments/corpus_written.sh, or here when missing), each listed with its first stage's near misses;
# Gemma 3 270M then scores every (claim, abstract) of those lists by query likelihood (UPR: the
# mean log probability of the claim's tokens after reading the abstract), and the reranker learns
# that distribution (ListNet) instead of "the source abstract and nothing else". Then it is
# measured once on the development claims. No claim and no judgement of SciFact is read before
# that measurement.
# Usage: bash experiments/corpus_teacher.sh SCIFACT_DIR   (about 80 minutes on 2 CPU cores)
# Writes runs/teacher/ (teacher_lists.jsonl, the artifact, summary.json) and runs/teacher-dev/.
# shellcheck source=experiments/_lib.sh
. "$(dirname "$0")/_lib.sh"
data="${1:?usage: bash experiments/corpus_teacher.sh SCIFACT_DIR}"
write_claims "$data"
if [ ! -f runs/teacher/summary.json ]; then
  # The written run's recipe (experiments/corpus_written.sh) with 7 negatives a list, the teacher's
  # labels and the loss that reads them (listnet); the teacher's prompt asks for a claim, as the
  # writer's did.
  rerank-plugins train --corpus "$data" --synthetic written --queries-file runs/written/queries.jsonl \
    --teacher query-likelihood:gemma-3-270m \
    --teacher-option 'prompt=Abstract: {passage}
A claim this abstract supports:' \
    --roundtrip-k 20 --method full --head-lr-scale 10 --learning-rate 5e-5 --batch-size 4 \
    --candidates 20 --hard-negatives 6 --random-negatives 1 --epochs 2 --eval-steps 100 \
    --max-length 256 --loss listnet --autocast bf16 --attention-dropout 0 --precision float16 \
    --seed 0 --threads 2 --no-progress --output runs/teacher
fi
measure_dev "$data" teacher
