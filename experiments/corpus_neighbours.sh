#!/usr/bin/env bash
# Corpus-only adaptation, fourth recipe (docs/guides/adapt-to-corpus.md): the teacher's lists of
# experiments/corpus_teacher.sh without the abstract each claim was written from. The reranker learns
# only the teacher's (Gemma 3 270M's query likelihood) ordering of the first stage's near misses of
# a written claim -- the part of its opinion that is not "find the paraphrase". Recipe otherwise
# as corpus_teacher.sh. Gated on the training claims' validation slice, then measured once on the
# development claims. No judgement of SciFact is used for training.
# Usage: bash experiments/corpus_neighbours.sh SCIFACT_DIR   (about 40 minutes on 2 CPU cores, after
# experiments/corpus_teacher.sh has saved runs/teacher/teacher_lists.jsonl)
# Writes runs/neighbours/ (lists, the artifact, summary.json), runs/neighbours-validation/ (and
# runs/teacher-validation/, the teacher run on the same slice) and, when the gate passes,
# runs/neighbours-dev/.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:?usage: bash experiments/corpus_neighbours.sh SCIFACT_DIR}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p runs/neighbours
python - <<'PY'
import json
# Drop the source (the first passage of each saved list) and shift labels to a minimum of 0;
# every tenth list is held out for the trainer's own checkpoint selection.
with open("runs/teacher/teacher_lists.jsonl") as f, \
        open("runs/neighbours/lists.jsonl", "w") as fit, \
        open("runs/neighbours/held_out.jsonl", "w") as held:
    for i, line in enumerate(f):
        row = json.loads(line)
        rest = row["passages"][1:]
        low = min(p["score"] for p in rest)
        out = {"query": row["query"],
               "passages": [{"text": p["text"], "score": p["score"] - low} for p in rest]}
        (held if i % 10 == 0 else fit).write(json.dumps(out) + "\n")
PY
if [ ! -f runs/neighbours/summary.json ]; then
  rerank-plugins train --preferences runs/neighbours/lists.jsonl \
    --dev-preferences runs/neighbours/held_out.jsonl \
    --method full --head-lr-scale 10 --learning-rate 5e-5 --batch-size 4 --epochs 2 \
    --eval-steps 100 --max-length 256 --loss listnet --autocast bf16 --attention-dropout 0 \
    --precision float16 --seed 0 --threads 2 --no-progress --output runs/neighbours
fi
rerank-plugins eval "$data" --split train --subset validation \
  --reranker cross-encoder:runs/neighbours/best --no-progress --out runs/neighbours-validation
# The run it departs from, on the same slice, for the comparison.
if [ ! -f runs/teacher-validation/report.json ]; then
  rerank-plugins eval "$data" --split train --subset validation \
    --reranker cross-encoder:runs/teacher/best --no-progress --out runs/teacher-validation
fi
# The gate: the development claims are measured only if the reranker lifts both nDCG@10 and P@3
# over the first stage on the validation slice (training claims).
if python - <<'PY'
import json, sys
c = json.load(open("runs/neighbours-validation/report.json"))["comparisons"]
sys.exit(0 if all(c[m]["after"] > c[m]["before"] for m in ("nDCG@10", "P@3")) else 1)
PY
then
  rerank-plugins eval "$data" --split train --subset dev \
    --reranker cross-encoder:runs/neighbours/best --no-progress --out runs/neighbours-dev
else
  echo "no lift on the validation slice: the development claims are not measured"
fi
