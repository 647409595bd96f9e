#!/usr/bin/env bash
# Distilling the bundled reranker into 3-layer students (docs/guides/distill.md): label the
# judged training claims' candidate lists with the teacher once, then train one student per
# recipe from those labels, each early-stopped on the validation slice (no dev report: the
# recipes are compared on validation; dev is measured once, for the student that ships).
# Usage: bash experiments/distill_students.sh SCIFACT_DIR [RUN ...]
#   RUN: LOSS-PICK[-TAG], LOSS mse, listnet or hidden, PICK spread or first (default: mse-spread,
#   mse-first, hidden-spread; about an hour each on 2 cores for 3 epochs, alone; labelling
#   about 12 minutes). TEACHER_LISTS=FILE reuses lists an earlier run labelled;
#   LAYERS=N sets the student's depth (default 3), THREADS=N its CPU threads (default 2),
#   EPOCHS=N its passes over the lists (default 3), LR its peak learning rate (default 1e-4),
#   START_FROM=ARTIFACT goes on training an earlier run's student (its layers, not LAYERS'),
#   MAX_LENGTH=N its tokens a pair (default 192), EVAL_STEPS=N its validations (default 100),
#   WHOLE=1 has the teacher label whole passages (distill --whole-passages), TEACHER=SPEC takes
#   the student's layers from another model than the bundled reranker (an earlier, deeper
#   student: its layers are copied, while TEACHER_LISTS keeps the bundled reranker's labels).
# Writes runs/distill/<run>/ (the first run's teacher_lists.jsonl serves the others);
# docs/scripts/distill_report.py turns the runs' validation curves into the guide's table.
# shellcheck source=experiments/_lib.sh
. "$(dirname "$0")/_lib.sh"
data="${1:?usage: bash experiments/distill_students.sh SCIFACT_DIR [RUN ...]}"
shift
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(mse-spread mse-first hidden-spread)
labels="${TEACHER_LISTS:-}"
for run in "${runs[@]}"; do
  loss="${run%%-*}"
  pick="${run#*-}"
  pick="${pick%%-*}"
  # The same recipe for each: 2 lists (28 pairs) a step, peak learning rate 1e-4, 3 epochs,
  # 192 tokens, a validation every 100 steps; only the loss and the starting layers differ.
  # The first run labels the lists (1 positive, 8 dense hard negatives, 3 BM25, 2 random a
  # claim, the teacher at its own settings) into its folder; the others reuse its labels.
  source=(--hard-negatives 8 --bm25-negatives 3 --random-negatives 2)
  [ -z "$labels" ] || source=(--teacher-lists "$labels")
  [ -z "${START_FROM:-}" ] || source+=(--start-from "$START_FROM")
  [ -z "${WHOLE:-}" ] || source+=(--whole-passages)
  rerank-plugins distill --teacher "${TEACHER:-bundled:scifact-minilm}" --beir "$data" "${source[@]}" \
    --layers "${LAYERS:-3}" --pick "$pick" --loss "$loss" --batch-size 2 --epochs "${EPOCHS:-3}" \
    --learning-rate "${LR:-1e-4}" --max-length "${MAX_LENGTH:-192}" \
    --eval-steps "${EVAL_STEPS:-100}" --patience 4 \
    --threads "${THREADS:-2}" --precision float16 --no-dev-report --no-progress --resume \
    --output "runs/distill/$run"
  [ -n "$labels" ] || labels="runs/distill/$run/teacher_lists.jsonl"
done
