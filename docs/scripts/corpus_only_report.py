"""The figures of docs/guides/adapt-to-corpus.md, from the runs of experiments/corpus_only.sh.

Reads ``runs/corpus-only/summary.json`` (training: lists made and kept, steps, seconds) and
``runs/corpus-only-dev/report.json`` (the one measurement on the development claims), and the same
two of ``experiments/corpus_written.sh`` (``runs/written*``), of ``experiments/corpus_teacher.sh``
(``runs/teacher*``; a run that predates the recorded labelling time has its teacher timed again
here on 20 of its saved lists), of ``experiments/corpus_neighbours.sh`` (``runs/neighbours*`` and
``runs/teacher-validation``: gated on the validation slice) and of
``experiments/corpus_judged.sh`` (``runs/corpus-judged*``: corpus lists added to the judged claims),
and writes ``benchmarks/results/corpus_only.json`` (the record) and
``docs/assets/tables/corpus-only.md``; judged claims alone are the bundled reranker's figures
(``benchmarks/results/bundled_selection.json``). A run whose folder is missing keeps its entry of
the record. With ``--render`` it rewrites the table from the record alone (no runs needed).

Run: ``python docs/scripts/corpus_only_report.py`` (after
``bash experiments/corpus_only.sh SCIFACT_DIR`` and
``bash experiments/corpus_judged.sh SCIFACT_DIR``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rerank_plugins.scorers.local import cpu_name

ROOT = Path(__file__).resolve().parents[2]
RECORD = ROOT / "benchmarks" / "results" / "corpus_only.json"
TABLE = ROOT / "docs" / "assets" / "tables" / "corpus-only.md"
EXAMPLES = ROOT / "docs" / "assets" / "tables" / "written-examples.md"


def collect(runs: Path, name: str = "corpus-only") -> dict[str, Any]:
    summary = json.loads((runs / name / "summary.json").read_text())
    report = json.loads((runs / f"{name}-dev" / "report.json").read_text())
    manifest = json.loads((Path(summary["artifact"]) / "reranker.json").read_text())
    made = manifest["recipe"]["corpus"]
    keep = ("before", "after", "absolute_lift", "ci", "p_value", "queries")
    return {
        "training": {
            "documents": made["documents"],
            "kinds": made["kinds"],
            "queries_made": made["made"],
            "held_out": made["held_out"],
            "lists": made["kept"],
            "by_kind": made["by_kind"],
            "steps": summary["steps"],
            "seconds": summary["train_seconds"],
            "best_during_training": summary["best_during_training"],
            "cpu": cpu_name(),
        },
        "development": {
            m: {k: report["comparisons"][m][k] for k in keep} for m in ("nDCG@10", "P@3")
        },
        "first_stage": report["config"]["retriever"],
        "reranker": report["config"]["reranker"],
    }


def judged_alone() -> dict[str, Any]:
    """The bundled reranker (judged claims only, the same recipe), measured once on dev."""
    dev = json.loads((ROOT / "benchmarks" / "results" / "bundled_selection.json").read_text())
    return {m: {"after": dev["dev"][m]["after"], "p_value": dev["dev"][m]["p"]}
            for m in ("nDCG@10", "P@3")}  # fmt: skip


def render(record: dict[str, Any]) -> str:
    text = render_corpus_only(record)
    if "written" in record:
        text += "\n" + render_written(record["written"])
    if "teacher" in record:
        text += "\n" + render_teacher(record["teacher"])
    if "neighbours" in record:
        text += "\n" + render_neighbours(record["neighbours"])
    if "corpus_and_judged" in record:
        text += "\n" + render_corpus_and_judged(record["corpus_and_judged"])
    return text


def collect_neighbours(runs: Path) -> dict[str, Any]:
    """experiments/corpus_neighbours.sh: training, the validation gate (beside the teacher run on
    the same slice) and, if the gate passed, the one development measurement."""
    summary = json.loads((runs / "neighbours" / "summary.json").read_text())
    keep = ("before", "after", "absolute_lift", "ci", "p_value", "queries")

    def lifts(folder: str) -> dict[str, Any]:
        report = json.loads((runs / folder / "report.json").read_text())
        return {m: {k: report["comparisons"][m][k] for k in keep} for m in ("nDCG@10", "P@3")}

    lists = (runs / "neighbours" / "lists.jsonl").read_text().splitlines()
    held = (runs / "neighbours" / "held_out.jsonl").read_text().splitlines()
    run: dict[str, Any] = {
        "training": {"lists": len(lists), "held_out": len(held), "steps": summary["steps"],
                     "seconds": summary["train_seconds"], "cpu": cpu_name()},
        "validation": lifts("neighbours-validation"),
        "teacher_validation": lifts("teacher-validation"),
    }  # fmt: skip
    if (runs / "neighbours-dev" / "report.json").is_file():
        run["development"] = lifts("neighbours-dev")
    return run


def render_neighbours(run: dict[str, Any]) -> str:
    t, val, teach = run["training"], run["validation"], run["teacher_validation"]
    lines = [
        f"Without the source: the teacher's {t['lists'] + t['held_out']} lists with the abstract "
        f"each claim was written from removed (7 abstracts a list: the teacher's opinion of the "
        f"near misses is all there is to learn; {t['held_out']} held out for early stopping), "
        f"ListNet, {t['steps']} steps in {t['seconds'] / 60:.0f} min on 2 cores of an "
        f"{t['cpu']}. Gated on the validation slice of the training claims "
        f"({val['P@3']['queries']} claims), beside the teacher-labelled run on the same slice "
        f"(`bash experiments/corpus_neighbours.sh SCIFACT_DIR`):",
        "",
        "| metric | first stage | teacher-labelled (with the source) | without the source | "
        "its lift (95% CI, p) |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for metric, row in val.items():
        lo, hi = row["ci"]
        lines.append(
            f"| {metric} | {row['before']:.3f} | {teach[metric]['after']:.3f} | "
            f"{row['after']:.3f} | {row['absolute_lift']:+.3f} ([{lo:+.3f}, {hi:+.3f}], "
            f"p = {row['p_value']:.3g}) |"
        )
    if "development" in run:
        lines += [
            "",
            "Measured once on the development claims:",
            "",
            "| metric | first stage | without the source | lift | 95% CI | p (paired test) |",
            "| --- | ---: | ---: | ---: | --- | ---: |",
            *lift_rows(run["development"]),
        ]
    else:
        lines += ["", "No lift on the validation slice, so the development claims were not "
                      "measured for this run."]  # fmt: skip
    return "\n".join(lines) + "\n"


def teacher_cost(runs: Path, prompt: str, lists: int = 20) -> dict[str, Any]:
    """Seconds a list of the teacher run, measured here on its first ``lists`` saved lists (for a
    run whose manifest predates the recorded labelling time)."""
    import os
    import time

    from rerank_plugins.models.gemma import load_gemma
    from rerank_plugins.scorers.query_likelihood import QueryLikelihoodScorer
    from rerank_plugins.training.data import read_preferences
    from rerank_plugins.training.synthetic import teacher_examples, teacher_logits

    saved = read_preferences(runs / "teacher" / "teacher_lists.jsonl")[:lists]
    gemma = load_gemma()
    scorer = QueryLikelihoodScorer(gemma.model, tokenizer=gemma.tokenizer, prompt=prompt)
    teacher = teacher_logits(scorer)
    start = time.perf_counter()
    again = teacher_examples(saved, teacher)
    seconds = (time.perf_counter() - start) / len(saved)
    drift = max(abs(a - b) for x, y in zip(saved, again, strict=True)
                for a, b in zip(x.labels, y.labels, strict=True))  # fmt: skip
    return {"seconds_per_list": seconds, "lists_timed": len(saved), "cpu": cpu_name(),
            "load": [round(x, 2) for x in os.getloadavg()], "max_label_change": drift}  # fmt: skip


def render_teacher(run: dict[str, Any]) -> str:
    t, teach = run["training"], run["teacher"]
    total = teach.get("seconds") or teach["seconds_per_list"] * t["lists"]
    how = ("labelling took" if teach.get("seconds") else
           f"labelling costs {teach['seconds_per_list']:.2f} s a list here (timed again on "
           f"{teach['lists_timed']} of them), so about")  # fmt: skip
    lines = [
        f"With a teacher: the same {t['lists']} written-claim lists, each with 6 near misses and 1 "
        f"random abstract, labelled by Gemma 3 270M's query likelihood (UPR) and learnt with "
        f"ListNet; {how} {total / 60:.0f} min, then {t['steps']} steps in "
        f"{t['seconds'] / 60:.0f} min on 2 cores of an {t['cpu']}. Measured once on the "
        f"{run['development']['P@3']['queries']} development claims (`bash "
        f"experiments/corpus_teacher.sh SCIFACT_DIR`):",
        "",
        "| metric | first stage | teacher-labelled reranker | lift | 95% CI | p (paired test) |",
        "| --- | ---: | ---: | ---: | --- | ---: |",
    ]
    return "\n".join(lines + lift_rows(run["development"])) + "\n"


def written_examples(path: Path, n: int = 6) -> list[dict[str, str]]:
    """The first ``n`` written queries of the file, beside their abstract's title."""
    from rerank_plugins.evaluation.beir import load_corpus

    rows = [json.loads(line) for line in path.read_text().splitlines()[:n]]
    corpus = load_corpus(ROOT / "rerank_plugins" / "data" / "scifact")
    return [{"title": corpus[r["doc_id"]][0], "query": r["query"]} for r in rows]


def render_examples(rows: list[dict[str, str]]) -> str:
    lines = ["| abstract (its title) | the claim Gemma 3 270M wrote |", "| --- | --- |"]
    lines += [f"| {r['title']} | {r['query']} |" for r in rows]
    return "\n".join(lines) + "\n"


def render_written(run: dict[str, Any]) -> str:
    t, w = run["training"], run["writing"]
    lines = [
        f"Written queries: Gemma 3 270M wrote one claim for each of {w['documents']} abstracts "
        f"({w['written']} usable replies, {w['seconds'] / 60:.0f} min; "
        f"`experiments/write_queries.py`, "
        f"a few-shot prompt whose two examples were invented for it), {t['held_out']} held out "
        f"for early stopping, {t['lists']} lists kept by the round trip; the same recipe, two "
        f"passes, {t['steps']} steps in {t['seconds'] / 60:.0f} min on 2 cores of an "
        f"{t['cpu']}. Measured once on the {run['development']['P@3']['queries']} development "
        f"claims (`bash experiments/corpus_written.sh SCIFACT_DIR`):",
        "",
        "| metric | first stage | written-query reranker | lift | 95% CI | p (paired test) |",
        "| --- | ---: | ---: | ---: | --- | ---: |",
    ]
    return "\n".join(lines + lift_rows(run["development"])) + "\n"


def lift_rows(development: dict[str, Any]) -> list[str]:
    """One table row per metric: first stage, reranker, lift, its 95% CI and the paired p."""
    rows = []
    for metric, row in development.items():
        lo, hi = row["ci"]
        rows.append(
            f"| {metric} | {row['before']:.3f} | {row['after']:.3f} | "
            f"{row['absolute_lift']:+.3f} | [{lo:+.3f}, {hi:+.3f}] | {row['p_value']:.3g} |"
        )
    return rows


def render_corpus_and_judged(run: dict[str, Any]) -> str:
    t, alone = run["training"], run["judged_alone"]
    lines = [
        f"Corpus + judged claims: the bundled reranker's recipe (run B of the model card) on the "
        f"training claims plus {t['lists']} lists made from {t['documents']} abstracts "
        f"({', '.join(t['kinds'])}), early-stopped on the judged validation slice, "
        f"{t['steps']} steps in {t['seconds'] / 60:.0f} min on 2 cores of an {t['cpu']} (shared "
        f"with other jobs for part of the run). Measured once on the "
        f"{run['development']['P@3']['queries']} development claims, beside judged claims alone "
        f"(the bundled reranker, measured once before):",
        "",
        "| metric | first stage | judged claims alone | corpus + judged | its lift over the "
        "first stage (95% CI, p) |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for metric, row in run["development"].items():
        lo, hi = row["ci"]
        lines.append(
            f"| {metric} | {row['before']:.3f} | {alone[metric]['after']:.3f} | "
            f"{row['after']:.3f} | {row['absolute_lift']:+.3f} ([{lo:+.3f}, {hi:+.3f}], "
            f"p = {row['p_value']:.3g}) |"
        )
    lines += [
        "",
        f"Validation nDCG@10 (81 judged claims, the selection signal): corpus + judged "
        f"{t['best_during_training']['ndcg@10']:.3f}, judged alone "
        f"{run['judged_alone_validation_ndcg']:.3f}. Inference settings differ: judged alone "
        f"ranks with windows (chosen on validation), corpus + judged with truncation at "
        f"{run['max_length']} tokens (the trained artifact's default; no setting was chosen for "
        f"it).",
    ]
    return "\n".join(lines) + "\n"


def render_corpus_only(record: dict[str, Any]) -> str:
    t = record["training"]
    lines = [
        f"Trained from {t['documents']} SciFact abstracts alone ({', '.join(t['kinds'])} "
        f"queries: {t['queries_made']} made, {t['held_out']} held out for early stopping, "
        f"{t['lists']} lists kept by the round trip), {t['steps']} steps in "
        f"{t['seconds'] / 60:.0f} min on 2 cores of an {t['cpu']}. Measured once on the "
        f"{record['development']['P@3']['queries']} development claims, first stage "
        f"{record['first_stage']} top 20:",
        "",
        "| metric | first stage | corpus-only reranker | lift | 95% CI | p (paired test) |",
        "| --- | ---: | ---: | ---: | --- | ---: |",
    ]
    return "\n".join(lines + lift_rows(record["development"])) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=ROOT / "runs", help="where the runs are")
    parser.add_argument("--render", action="store_true", help="only rewrite the table")
    args = parser.parse_args()
    record = json.loads(RECORD.read_text()) if RECORD.is_file() else {}
    if not args.render:
        if (args.runs / "corpus-only-dev" / "report.json").is_file():
            record.update(collect(args.runs))
        if (args.runs / "written-dev" / "report.json").is_file():
            run = collect(args.runs, "written")
            run["writing"] = json.loads(
                (args.runs / "written" / "queries.summary.json").read_text()
            )
            run["examples"] = written_examples(args.runs / "written" / "queries.jsonl")
            record["written"] = run
        if (args.runs / "teacher-dev" / "report.json").is_file():
            run = collect(args.runs, "teacher")
            manifest = json.loads(
                (Path(json.loads((args.runs / "teacher" / "summary.json").read_text())[
                    "artifact"]) / "reranker.json").read_text()
            )  # fmt: skip
            teach = manifest["recipe"]["corpus"]["teacher"]
            if "seconds" not in teach:
                teach.update(teacher_cost(args.runs, teach["options"]["prompt"]))
            run["teacher"] = teach
            record["teacher"] = run
        if (args.runs / "neighbours-validation" / "report.json").is_file():
            record["neighbours"] = collect_neighbours(args.runs)
        if (args.runs / "corpus-judged-dev" / "report.json").is_file():
            run = collect(args.runs, "corpus-judged")
            selection = json.loads(
                (ROOT / "benchmarks" / "results" / "bundled_selection.json").read_text()
            )
            manifest = json.loads(
                (Path(json.loads((args.runs / "corpus-judged" / "summary.json").read_text())[
                    "artifact"]) / "reranker.json").read_text()
            )  # fmt: skip
            run["judged_alone"] = judged_alone()
            run["judged_alone_validation_ndcg"] = selection["runs"][selection["winner"]][
                "validation_ndcg@10"
            ]
            run["max_length"] = manifest["max_length"]
            record["corpus_and_judged"] = run
        RECORD.write_text(json.dumps(record, indent=2) + "\n")
    TABLE.write_text(render(record))
    if "written" in record:
        EXAMPLES.write_text(render_examples(record["written"]["examples"]))
    print(TABLE.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
