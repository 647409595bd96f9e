# Sourced by the corpus runs (experiments/corpus_*.sh): the steps they share.
# shellcheck shell=bash
# Sourcing it: strict mode, the clone's root as the working folder, the model hub off.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

# The claims Gemma 3 270M writes for 1,200 abstracts (once; corpus_written.sh and
# corpus_teacher.sh both train on them).
write_claims() {
  if [ ! -f runs/written/queries.jsonl ]; then
    python experiments/write_queries.py "$1" --max-documents 1200 --batch-size 32 \
      --out runs/written/queries.jsonl
  fi
}

# The one measurement on the development claims of a run's best checkpoint: runs/NAME-dev/.
measure_dev() {
  rerank-plugins eval "$1" --split train --subset dev --reranker "cross-encoder:runs/$2/best" \
    --no-progress --out "runs/$2-dev"
}
