"""How the reranker gets things wrong: the evaluation CLI's own "where the reranker was wrong".

Runs ``rerank-plugins eval`` (the same command users run) over the SciFact development claims
with the bundled reranker, and turns its report into the docs' material:
``docs/assets/tables/failure-modes-cli.md`` (the CLI's terminal section, verbatim),
``docs/assets/tables/failure-modes.md`` (the claims it hurt most, with the relevant abstracts
that fell and what it promoted and demoted), ``docs/assets/tables/failure-modes-shares.md``
(claims improved, unchanged and hurt) and ``docs/assets/failure-modes-per-query.png`` (the
CLI's per-claim lift plot).

Run: ``python docs/scripts/failure_modes.py`` (bundled SciFact dev claims and bundled reranker).
"""

from __future__ import annotations

import json
import math
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import _common as c

SECTION = "Where the reranker was wrong"


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--hurt", type=int, default=5, help="claims to list (the CLI lists 5)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        command = cli_command(args, out)
        print("$ " + shlex.join(command), flush=True)
        proc = subprocess.run(command, capture_output=True, text=True, cwd=c.ROOT)
        if proc.returncode != 0:
            sys.exit(f"rerank-plugins eval failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        report = json.loads((out / "report.json").read_text())
        shutil.copyfile(out / "lift_per_query.png", args.out / "failure-modes-per-query.png")
    terminal = proc.stdout
    section = terminal[terminal.index(SECTION) :].split("\n\nreports:")[0].rstrip()
    shown = ["rerank-plugins", *command[3:]]  # as a user types it; no temporary folder
    cut = shown.index("--out")
    shown = [_relative(x) for x in shown[:cut] + shown[cut + 2 :]]
    (args.out / "tables" / "failure-modes-cli.md").write_text(
        f"```text\n$ {shlex.join(shown)}\n...\n{section}\n```\n"
    )
    print(section)
    seed_score_cache(args, report["queries"])
    write_hurt(args, report["hurt_most"][: args.hurt])
    write_shares(args, report["comparisons"])


def _relative(arg: str) -> str:
    path = Path(arg)
    if path.is_absolute() and path.is_relative_to(c.ROOT):
        return str(path.relative_to(c.ROOT))
    return arg


def seed_score_cache(args: Any, outcomes: list[dict[str, Any]]) -> None:
    """Keep the CLI's scores (the same model and options) for the other scripts: no rescoring.

    The report holds normalised scores, ``sigmoid(logit)``; the cache holds logits.
    """
    cache = c.ScoreCache(args.reranker, args.max_length)
    kept = 0
    for o in outcomes:
        for doc_id, score in zip(o["after"], o["scores"], strict=True):
            if score is not None and 0.0 < score < 1.0:
                cache.put(o["query_id"], doc_id, math.log(score / (1.0 - score)))
                kept += 1
    cache.save()
    print(f"kept {kept} scores of the CLI run in {cache.path}")


def cli_command(args: Any, out: Path) -> list[str]:
    if args.data is not None:
        data, split, subset = str(args.data), args.split or "train", "dev"
    else:
        from rerank_plugins.data import SCIFACT_SPLIT, scifact_path

        data, split, subset = str(scifact_path()), SCIFACT_SPLIT, "all"
    command = [
        sys.executable,
        "-m",
        "rerank_plugins",
        "eval",
        data,
        "--split",
        split,
        "--subset",
        subset,
        "--reranker",
        f"cross-encoder:{args.reranker}",
        "--out",
        str(out),
        "--no-progress",
    ]
    if args.limit:
        command += ["--limit", str(args.limit)]
    if args.max_length:
        command += ["--reranker-option", f"max_length={args.max_length}"]
    return command


def write_hurt(args: Any, hurt: list[dict[str, Any]]) -> None:
    lines: list[str] = []
    for view in hurt:
        delta = view["delta"]
        lines += [
            f"**{view['query']}** (claim {view['query_id']}; P@3 {delta['P@3']:+.3f}, "
            f"nDCG@10 {delta['nDCG@10']:+.3f})",
            "",
            "| move | relevant | rank before → after | reranker score | abstract |",
            "| --- | --- | --- | --- | --- |",
        ]
        demoted = {d["doc_id"] for d in view["demoted"]}
        fell = [
            (d, other)
            for d, other in zip(view.get("fell", []), view.get("took_place", []), strict=True)
            if d["doc_id"] not in demoted  # a relevant passage that fell inside the top 10
        ]
        for d, other in fell:
            title = d["title"].replace("|", "\\|")
            lines.append(
                f"| fell (its place: #{other['rank_before']}, "
                f"{'relevant' if other['relevant'] else 'not relevant'}) | ✓ | "
                f"{d['rank_before']} → {d['rank_after'] or 'cut'} | "
                f"{'' if d['score'] is None else format(d['score'], '.2f')} | {title} |"
            )
        for kind, docs in (("promoted", view["promoted"]), ("demoted", view["demoted"])):
            for d in docs:
                after = "cut" if d["rank_after"] is None else d["rank_after"]
                score = "" if d["score"] is None else f"{d['score']:.2f}"
                title = d["title"].replace("|", "\\|")
                lines.append(
                    f"| {kind} | {'✓' if d['relevant'] else ''} | "
                    f"{d['rank_before']} → {after} | {score} | {title} |"
                )
        if not view["promoted"] and not view["demoted"]:
            lines.append("| reordered | | same top 3 | | |")
        lines.append("")
    (args.out / "tables" / "failure-modes.md").write_text("\n".join(lines))
    print("\n".join(lines))


def write_shares(args: Any, comparisons: dict[str, dict[str, Any]]) -> None:
    rows = []
    for metric in ("P@3", "nDCG@10"):
        cmp = comparisons[metric]
        rows.append(
            [
                metric,
                f"{cmp['improved']:.0%}",
                f"{cmp['unchanged']:.0%}",
                f"{cmp['hurt']:.0%}",
                f"{cmp['absolute_lift']:+.3f}",
            ]
        )
    table = c.write_table(
        args.out / "tables" / "failure-modes-shares.md",
        ["metric", "claims improved", "unchanged", "hurt", "mean lift"],
        rows,
    )
    print(table)


if __name__ == "__main__":
    main()
