"""CrossEncoderScorer's fast paths on real weights: PyTorch bf16, ONNX Runtime fp32 and int8,
OpenVINO fp32 and bf16, ``runtime="auto"``, batching, truncation, the score cache and micro-batching of concurrent calls.

Tolerances (raw logits, the tiny seeded-head model of ``conftest.py``): the torch runtime matches
``CrossEncoder.predict`` within 1e-5; ONNX and OpenVINO fp32 within 1e-4; bf16 (PyTorch or
OpenVINO) and ONNX int8 within 0.05. A pair's score alone and in a batch of others: within 1e-5
(PyTorch fp32), 1e-4 (ONNX and OpenVINO fp32), 0.03 (bf16: kernels pick other blockings for other
shapes), exactly (int8, one pair per pass). OpenVINO bf16 runs only where the CPU has bf16 units
(skipped elsewhere, with the reason). Ranking fidelity of the fast paths
on real claims is measured by ``benchmarks/bench_local.py``.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rerank_plugins import ConfigurationError, CrossEncoderScorer, Reranker, TransientError
from rerank_plugins._cache import ScoreCache, cache_dir
from rerank_plugins.scorers.local import EncodedPair, MicroBatcher, PairEncoder, pad, plan_batches
from tests._local import seeded_scorer

QUERY = "does aspirin reduce the risk of heart attack"
TEXTS = [
    "Aspirin lowers the risk of myocardial infarction in men. " * 6,
    "The Eiffel tower is in Paris.",
    "Low-dose aspirin and cardiovascular events: a randomised trial.",
    "",
    "Résumé: l'aspirine réduit le risque d'infarctus — 阿司匹林",
]
TOLERANCE = {
    "torch": 1e-5, "torch-bf16": 0.05, "onnx": 1e-4, "onnx-int8": 0.05,
    "openvino": 1e-4, "openvino-bf16": 0.05,
}  # fmt: skip
ALONE_VS_BATCH = {
    "torch": 1e-5, "torch-bf16": 0.03, "onnx": 1e-4, "onnx-int8": 0.0,
    "openvino": 1e-4, "openvino-bf16": 0.03,
}  # fmt: skip


def _cpu_has_bf16() -> bool:
    from rerank_plugins.scorers.local import has_bf16

    return has_bf16()


NEEDS_BF16 = pytest.mark.skipif(
    not _cpu_has_bf16(), reason="OpenVINO bf16 needs a CPU with bf16 units (AMX/AVX-512-BF16)"
)
EVERY_RUNTIME = [
    "torch", "torch-bf16", "onnx", "onnx-int8", "openvino",
    pytest.param("openvino-bf16", marks=NEEDS_BF16),
]  # fmt: skip


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


make = seeded_scorer


def reference(encoder: object, query: str, texts: list[str]) -> list[float]:
    import torch

    logits = encoder.predict(  # type: ignore[attr-defined]
        [(query, t) for t in texts], activation_fn=torch.nn.Identity(), convert_to_numpy=True
    )
    return [float(x) for x in logits.reshape(-1)]


@pytest.mark.parametrize("runtime", EVERY_RUNTIME)
def test_each_runtime_scores_close_to_the_torch_reference(
    runtime, loaded_cross_encoder, export_dir
):
    scorer = make(runtime, loaded_cross_encoder, export_dir)
    got = scorer.score_unit(QUERY, TEXTS, timeout=None).scores
    want = reference(loaded_cross_encoder, QUERY, TEXTS)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert isinstance(g, float)
        assert g == pytest.approx(w, abs=TOLERANCE[runtime])


@pytest.mark.parametrize("runtime", EVERY_RUNTIME)
def test_a_pairs_score_is_the_same_alone_and_in_a_batch(runtime, loaded_cross_encoder, export_dir):
    scorer = make(runtime, loaded_cross_encoder, export_dir, score_cache_size=0)
    texts = [*TEXTS, *(f"{t} (variant {i})" for i, t in enumerate(TEXTS))]
    together = scorer.score_unit(QUERY, texts, timeout=None).scores
    assert scorer.forward_passes < len(texts) or runtime == "onnx-int8"  # passes were shared
    for text, score in zip(texts, together, strict=True):
        (alone,) = scorer.score_unit(QUERY, [text], timeout=None).scores
        assert alone == pytest.approx(score, abs=ALONE_VS_BATCH[runtime])


@pytest.mark.parametrize("runtime", ["torch-bf16", pytest.param("openvino-bf16", marks=NEEDS_BF16)])
def test_bf16_keeps_the_loaded_model_fp32_and_the_head_continuous(
    runtime, loaded_cross_encoder, export_dir
):
    import torch

    scorer = make(runtime, loaded_cross_encoder, export_dir, score_cache_size=0)
    scores = scorer.score_unit(QUERY, TEXTS, timeout=None).scores
    assert next(loaded_cross_encoder.model.parameters()).dtype == torch.float32
    # A bf16 head would put every logit on bf16's grid (8 bits of mantissa); the fp32 head does not.
    on_grid = [float(torch.tensor(s).bfloat16().float()) == s for s in scores]
    assert not all(on_grid), scores


def test_auto_picks_from_what_the_machine_offers(loaded_cross_encoder, export_dir):
    from rerank_plugins.scorers.local import choose_runtime, cpu_flags

    assert choose_runtime("cpu", frozenset({"avx512_bf16"}), openvino=False) == "torch-bf16"
    assert choose_runtime("cpu", frozenset({"amx_bf16", "amx_int8"}), openvino=False) == (
        "torch-bf16"
    )
    assert choose_runtime("cpu", frozenset({"avx512_bf16"}), openvino=True) == "openvino-bf16"
    assert choose_runtime("cpu", frozenset({"avx2", "avx512_vnni"}), openvino=True) == "torch"
    assert choose_runtime("mps") == "torch"
    scorer = make("auto", loaded_cross_encoder, export_dir)
    assert scorer.runtime == "auto" and "runtime='auto'" in repr(scorer)
    result = Reranker(scorer).rerank(QUERY, TEXTS)
    expected = choose_runtime("cpu", cpu_flags())
    assert scorer.runtime == expected and result.stats.runtime == expected
    assert f"runtime={str(expected)!r} (auto: {expected.why})" in repr(scorer)
    # The cache key names the runtime picked: an explicit scorer on it shares its scores.
    twin = make(str(expected), loaded_cross_encoder, export_dir)
    twin.score_cache = scorer.score_cache
    passes = twin.forward_passes
    twin.score_unit(QUERY, TEXTS, timeout=None)
    assert twin.forward_passes == passes


def test_two_class_model_on_onnx_gives_the_logit_difference(two_class_cross_encoder_path, tmp_path):
    import torch

    scorer = CrossEncoderScorer(
        str(two_class_cross_encoder_path), runtime="onnx", cache_dir=tmp_path
    )
    got = scorer.score_unit(QUERY, TEXTS[:3], timeout=None).scores
    logits = scorer.encoder.predict(
        [(QUERY, t) for t in TEXTS[:3]], activation_fn=torch.nn.Identity(), convert_to_tensor=True
    )
    want = (logits[:, 1] - logits[:, 0]).tolist()
    assert got == pytest.approx(want, abs=1e-4)


def test_export_works_offline_from_a_local_folder_and_is_cached_on_disk(
    cross_encoder_path, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    caplog.set_level("WARNING")
    first = CrossEncoderScorer(str(cross_encoder_path), runtime="onnx-int8", cache_dir=tmp_path)
    first.prepare()
    fp32 = list(tmp_path.glob("onnx/*/model.onnx"))
    int8 = list(tmp_path.glob("onnx/*/model-int8.onnx"))
    assert len(fp32) == 1 and len(int8) == 1
    assert not list(tmp_path.glob("onnx/*/*.tmp"))  # written atomically, nothing left over
    assert not [r for r in caplog.records if "pre-processing" in r.getMessage()]
    stamp = int8[0].stat().st_mtime_ns
    second = CrossEncoderScorer(str(cross_encoder_path), runtime="onnx-int8", cache_dir=tmp_path)
    second.prepare()  # loads the cached file instead of exporting again
    assert int8[0].stat().st_mtime_ns == stamp
    assert len(list(tmp_path.glob("onnx/*/*.onnx"))) == 2
    assert second.score_unit(QUERY, TEXTS, timeout=None).scores == pytest.approx(
        first.score_unit(QUERY, TEXTS, timeout=None).scores, abs=1e-6
    )


def test_export_key_changes_with_the_weights(loaded_cross_encoder):
    import copy

    import torch

    from rerank_plugins.scorers.local._onnx import export_key, weights_digest

    model = loaded_cross_encoder.model
    other = copy.deepcopy(model)
    with torch.no_grad():
        other.classifier.bias += 1.0
    a, b = weights_digest(model), weights_digest(other)
    assert a != b
    assert export_key(a, quantized=False) != export_key(b, quantized=False)
    assert export_key(a, quantized=False) != export_key(a, quantized=True)


def test_default_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RERANK_PLUGINS_CACHE", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x"
    monkeypatch.delenv("RERANK_PLUGINS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "rerank-plugins"
    assert cache_dir(tmp_path / "mine") == tmp_path / "mine"


def test_cache_hits_are_exact_and_cost_no_forward_pass(loaded_cross_encoder, export_dir):
    scorer = make("onnx-int8", loaded_cross_encoder, export_dir)
    first = list(scorer.score_unit(QUERY, TEXTS, timeout=None).scores)
    passes = scorer.forward_passes
    again = list(scorer.score_unit(QUERY, list(reversed(TEXTS)), timeout=None).scores)
    assert again == list(reversed(first))  # bit-for-bit the same floats
    assert scorer.forward_passes == passes
    assert scorer.score_cache.hits == len(TEXTS)
    # A new query misses; a new passage for a known query misses only for itself.
    scorer.score_unit(QUERY + "?", TEXTS[:1], timeout=None)
    scorer.score_unit(QUERY, [*TEXTS, "a new passage"], timeout=None)
    assert scorer.forward_passes == passes + 2
    assert scorer.score_cache.hits == 2 * len(TEXTS)


def test_cache_is_keyed_by_what_changes_the_score(loaded_cross_encoder, export_dir):
    shared = ScoreCache(100)
    short = make("torch", loaded_cross_encoder, export_dir, max_length=16)
    full = make("torch", loaded_cross_encoder, export_dir)
    short.score_cache = full.score_cache = shared
    a = short.score_unit(QUERY, TEXTS[:1], timeout=None).scores
    b = full.score_unit(QUERY, TEXTS[:1], timeout=None).scores
    assert len(shared) == 2 and a != b


def test_cache_is_bounded_and_can_be_turned_off(loaded_cross_encoder, export_dir):
    cache = ScoreCache(2)
    for i in range(5):
        cache.put(("m", "q", str(i)), float(i))
    assert len(cache) == 2 and cache.get(("m", "q", "0")) is None
    assert cache.get(("m", "q", "4")) == 4.0
    with pytest.raises(ValueError, match=r"ScoreCache got maxsize=True; pass an integer >= 0\."):
        ScoreCache(True)  # type: ignore[arg-type]
    off = make("torch", loaded_cross_encoder, export_dir, score_cache_size=0)
    off.score_unit(QUERY, TEXTS[:2], timeout=None)
    off.score_unit(QUERY, TEXTS[:2], timeout=None)
    assert off.forward_passes == 2 and len(off.score_cache) == 0


def test_the_engine_seam_runs_a_given_forward_pass_and_planner(loaded_cross_encoder, export_dir):
    scorer = make("torch", loaded_cross_encoder, export_dir)
    want = scorer.score_unit(QUERY, TEXTS, timeout=None).scores
    engine = scorer.engine
    seen: list[int] = []
    planned: list[list[int]] = []

    def counting(pairs: list[EncodedPair]) -> list[list[float]]:
        seen.append(len(pairs))
        return engine.batcher.forward(pairs)

    def planner(lengths: list[int], **kw: int) -> list[list[int]]:
        planned.append(list(lengths))
        return plan_batches(lengths, **kw)

    scorer.use_engine(engine.with_forward(counting, max_size=1, planner=planner))
    assert scorer.runtime.startswith("custom-") and scorer.engine is not engine
    got = scorer.score_unit(QUERY, TEXTS, timeout=None).scores
    assert got == pytest.approx(want, abs=1e-5)  # not the cache: a new runtime, a new key
    assert seen == [1] * len(TEXTS) and planned  # one pair a pass, grouped by the given planner
    assert scorer.engine.batcher.cost is scorer.cost
    twin = make("torch", loaded_cross_encoder, export_dir)
    twin.use_engine(scorer.engine)  # one engine shared by two scorers
    assert twin.runtime == scorer.runtime and twin.engine is scorer.engine


def test_concurrent_calls_get_their_own_scores(loaded_cross_encoder, export_dir):
    scorer = make("onnx", loaded_cross_encoder, export_dir, score_cache_size=0)
    reranker = Reranker(scorer)
    queries = [f"{QUERY} case {i}" for i in range(8)]
    texts = [[f"{t} variant {i}" for t in TEXTS] for i in range(8)]
    sequential = [reranker.rerank(q, t) for q, t in zip(queries, texts, strict=True)]
    barrier = threading.Barrier(8)

    def call(i: int) -> object:
        barrier.wait()
        return reranker.rerank(queries[i], texts[i])

    with ThreadPoolExecutor(8) as pool:
        concurrent = list(pool.map(call, range(8)))
    for seq, conc in zip(sequential, concurrent, strict=True):
        by_index = {it.index: it.raw_score for it in conc}
        for it in seq:
            assert by_index[it.index] == pytest.approx(it.raw_score, abs=1e-5)


async def test_async_calls_share_the_model_and_match_sync(loaded_cross_encoder, export_dir):
    import asyncio

    scorer = make("onnx-int8", loaded_cross_encoder, export_dir, score_cache_size=0)
    reranker = Reranker(scorer)
    queries = [f"{QUERY} {i}" for i in range(6)]
    results = await asyncio.gather(*(reranker.arerank(q, TEXTS) for q in queries))
    for q, res in zip(queries, results, strict=True):
        sync = reranker.rerank(q, TEXTS)
        # int8 runs one pair per pass, so a score never depends on what ran beside it.
        assert [(i.index, i.raw_score) for i in res] == [(i.index, i.raw_score) for i in sync]


def _pairs(tag: int, n: int) -> list[EncodedPair]:
    return [EncodedPair([tag, j] + [7] * (j % 3), [0] * (2 + j % 3)) for j in range(n)]


def test_micro_batcher_merges_concurrent_requests_and_attributes_rows():
    gate = threading.Event()
    seen: list[int] = []

    def forward(pairs: list[EncodedPair]) -> list[list[float]]:
        seen.append(len(pairs))
        if len(seen) == 1:
            gate.wait(5)  # hold the first pass until every other request is queued
        return [[float(p.input_ids[0] * 100 + p.input_ids[1])] for p in pairs]

    batcher = MicroBatcher(forward, max_tokens=10_000, max_size=64)
    results: dict[int, list[list[float]]] = {}

    def call(tag: int) -> None:
        results[tag] = batcher.run(_pairs(tag, 3 + tag), timeout=None)

    threads = [threading.Thread(target=call, args=(tag,)) for tag in range(1, 6)]
    threads[0].start()
    while not seen:
        threading.Event().wait(0.001)
    for t in threads[1:]:
        t.start()
    while len(batcher._queue) < 5:
        threading.Event().wait(0.001)
    gate.set()
    for t in threads:
        t.join(5)
    for tag in range(1, 6):
        assert results[tag] == [[float(tag * 100 + j)] for j in range(3 + tag)]
    assert seen[0] == 4 and len(seen) == 2 and seen[1] == sum(3 + t for t in range(2, 6))


def test_lanes_let_concurrent_callers_run_passes_at_the_same_time():
    entered = threading.Event()
    both = threading.Barrier(2, timeout=5)  # passes only once two passes run together

    def forward(pairs: list[EncodedPair]) -> list[list[float]]:
        entered.set()
        both.wait()
        return [[float(p.input_ids[0] * 100 + p.input_ids[1])] for p in pairs]

    batcher = MicroBatcher(forward, max_tokens=10_000, max_size=64, lanes=2)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(batcher.run, _pairs(1, 3), timeout=None)
        entered.wait(5)
        second = pool.submit(batcher.run, _pairs(2, 2), timeout=None)
        assert second.result(10) == [[200.0], [201.0]]
        assert first.result(10) == [[100.0], [101.0], [102.0]]
    assert batcher.passes == 2


def test_a_lone_call_spreads_its_passes_over_free_lanes():
    both = threading.Barrier(2, timeout=5)  # passes only once two passes run together
    threads: set[str] = set()

    def forward(pairs: list[EncodedPair]) -> list[list[float]]:
        name = threading.current_thread().name
        if name not in threads:  # each lane's first pass waits for the other lane's
            threads.add(name)
            both.wait()
        return [[float(p.input_ids[1])] for p in pairs]

    batcher = MicroBatcher(forward, max_tokens=10_000, max_size=1, lanes=2)
    assert batcher.run(_pairs(1, 6), timeout=None) == [[float(j)] for j in range(6)]
    assert batcher.passes == 6 and len(threads) == 2


def test_micro_batcher_times_out_a_request_that_never_started():
    gate = threading.Event()

    def forward(pairs: list[EncodedPair]) -> list[list[float]]:
        gate.wait(5)
        return [[0.0] for _ in pairs]

    batcher = MicroBatcher(forward, max_tokens=100, max_size=8)
    first = threading.Thread(target=batcher.run, args=(_pairs(1, 2),), kwargs={"timeout": None})
    first.start()
    while not batcher._busy:
        threading.Event().wait(0.001)
    with pytest.raises(TransientError) as info:
        batcher.run(_pairs(2, 2), timeout=0.05)
    assert info.value.reason == "timeout"
    gate.set()
    first.join(5)
    assert batcher.run(_pairs(3, 1), timeout=1.0) == [[0.0]]  # the model is free again


def test_passes_expected_to_overrun_the_timeout_are_not_run():
    def forward(pairs: list[EncodedPair]) -> list[list[float]]:
        time.sleep(0.05)
        return [[1.0] for _ in pairs]

    batcher = MicroBatcher(forward, max_tokens=1_000, max_size=1)
    assert batcher.run(_pairs(1, 2), timeout=None) == [[1.0], [1.0]]  # learns the pass cost
    same_length = [EncodedPair([2, j], [0, 0]) for j in range(12)]
    rows = batcher.run(same_length, timeout=0.2)
    scored = [row for row in rows if row is not None]
    assert len(scored) < 12 and rows[: len(scored)] == scored  # the unscored are the tail
    assert batcher.passes == 2 + len(scored)


def test_a_failing_pass_reaches_its_callers_and_frees_the_model():
    calls = []

    def forward(pairs: list[EncodedPair]) -> list[list[float]]:
        calls.append(len(pairs))
        if len(calls) == 1:
            raise RuntimeError("boom")
        return [[1.0] for _ in pairs]

    batcher = MicroBatcher(forward, max_tokens=100, max_size=8)
    with pytest.raises(RuntimeError, match="boom"):
        batcher.run(_pairs(1, 2), timeout=None)
    assert batcher.run(_pairs(1, 2), timeout=None) == [[1.0], [1.0]]


def test_batches_are_sorted_by_length_and_within_the_token_budget():
    lengths = [37, 5, 512, 120, 6, 119, 64, 64, 300, 7]
    plan = plan_batches(lengths, max_tokens=400, max_size=4)
    assert sorted(i for batch in plan for i in batch) == list(range(len(lengths)))
    for batch in plan:
        assert len(batch) <= 4
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 400
    widths = [max(lengths[i] for i in b) for b in plan]
    assert widths == sorted(widths)
    arrays = pad([EncodedPair([1, 2, 3], [0, 0, 1]), EncodedPair([4], [0])], pad_id=0)
    assert arrays["input_ids"].tolist() == [[1, 2, 3], [4, 0, 0]]
    assert arrays["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_length_bucketing_finds_the_cheapest_split_of_the_sorted_pairs():
    import itertools
    import random

    rng = random.Random(7)
    for _ in range(200):
        lengths = [rng.choice([rng.randint(5, 40), rng.randint(100, 512)]) for _ in range(7)]
        budget, size, per_pass = rng.choice([600, 1200, 4096]), rng.randint(1, 7), 64
        plan = plan_batches(lengths, max_tokens=budget, max_size=size, pass_tokens=per_pass)
        assert sorted(i for b in plan for i in b) == list(range(len(lengths)))
        assert all(_allowed(b, lengths, budget, size) for b in plan)
        # Every split of the sorted pairs into consecutive passes, exhaustively: none is cheaper.
        order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
        cheapest = min(
            _cost(splits, lengths, per_pass)
            for cuts in itertools.product([False, True], repeat=len(order) - 1)
            for splits in [_split(order, cuts)]
            if all(_allowed(b, lengths, budget, size) for b in splits)
        )
        assert _cost(plan, lengths, per_pass) == cheapest
    # Where lengths spread, a short pair is not padded to a long one when a pass is cheaper.
    assert plan_batches([20, 20, 500, 500], max_tokens=4096, max_size=8) == [[0, 1], [2, 3]]


def _cost(batches: list[list[int]], lengths: list[int], per_pass: int) -> int:
    return sum(len(b) * max(lengths[i] for i in b) + per_pass for b in batches)


def _allowed(batch: list[int], lengths: list[int], budget: int, size: int) -> bool:
    widest = max(lengths[i] for i in batch)
    return len(batch) <= size and (len(batch) == 1 or len(batch) * widest <= budget)


def _split(order: list[int], cuts: tuple[bool, ...]) -> list[list[int]]:
    batches, current = [], [order[0]]
    for i, cut in zip(order[1:], cuts, strict=True):
        if cut:
            batches.append(current)
            current = []
        current.append(i)
    return [*batches, current]


def test_truncation_keeps_the_query_and_the_head_of_the_passage(loaded_cross_encoder):
    tokenizer = loaded_cross_encoder.tokenizer
    enc = PairEncoder(tokenizer, max_length=24)
    passage = "aspirin " * 200 + "TAIL"
    (pair,) = enc.encode(QUERY, [passage])
    assert len(pair) == 24
    want = tokenizer(QUERY, passage, truncation="only_second", max_length=24)["input_ids"]
    assert pair.input_ids == want
    # A query longer than the room keeps its head and leaves half the room to the passage.
    long_query = "heart " * 100
    (pair,) = enc.encode(long_query, [passage])
    assert len(pair) == 24 and pair.token_type_ids.count(1) >= 24 // 2 - 2
    # A huge text is tokenized only as far as needed, with the same result.
    (short,) = enc.encode(QUERY, ["aspirin " * 20_000])
    assert short.input_ids == enc.encode(QUERY, ["aspirin " * 30])[0].input_ids


def test_a_tokenizer_without_a_pair_template_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match=r"fast \(Rust\) tokenizer"):
        PairEncoder(object(), max_length=16)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"runtime": "fast"},
            "runtime must be 'auto' or one of 'torch', 'torch-bf16', 'onnx', 'onnx-int8', "
            "'openvino', 'openvino-bf16', got 'fast'",
        ),
        ({"runtime": "onnx", "device": "cuda"}, "runs on the CPU, got device='cuda'"),
        ({"runtime": "openvino-bf16", "device": "cuda"}, "runs on the CPU, got device='cuda'"),
        ({"max_batch_tokens": 0}, "got max_batch_tokens=0; pass an integer >= 1"),
        ({"threads": 0}, "got threads=0; pass an integer >= 1 or None"),
        ({"score_cache_size": -1}, "got score_cache_size=-1; pass an integer >= 0"),
    ],
)
def test_bad_fast_options_are_rejected_when_built(kwargs, message):
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        CrossEncoderScorer("x", **kwargs)


@pytest.mark.parametrize(("module", "runtime"), [("onnxruntime", "onnx"), ("openvino", "openvino")])
def test_a_missing_engine_names_the_fast_extra(module, runtime, cross_encoder_path, tmp_path):
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from rerank_plugins import CrossEncoderScorer\n"
        f"CrossEncoderScorer({str(cross_encoder_path)!r}, runtime={runtime!r}, "
        f"cache_dir={str(tmp_path)!r}).prepare()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    assert "MissingDependencyError" in out.stderr
    assert "pip install 'rerank-plugins[fast]'" in out.stderr


def test_auto_without_openvino_falls_back_to_torch(cross_encoder_path, tmp_path):
    from rerank_plugins.scorers.local import choose_runtime, cpu_flags

    code = (
        "import sys; sys.modules['openvino'] = None\n"
        "from rerank_plugins import CrossEncoderScorer\n"
        f"s = CrossEncoderScorer({str(cross_encoder_path)!r}, device='cpu', "
        f"cache_dir={str(tmp_path)!r}); s.prepare(); print(s.runtime)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == choose_runtime("cpu", cpu_flags(), openvino=False)


def test_a_pass_too_big_for_the_deadline_is_cut_to_what_fits():
    # A pass costs 10 ms per pair: 8 pairs in one pass are expected to take 80 ms (more with the
    # learned margin), past a 50 ms deadline, so the batcher used to drop them all (nothing
    # scored). Now it runs smaller passes of the pairs that fit.
    def forward(pairs: list[EncodedPair]) -> list[list[float]]:
        time.sleep(0.01 * len(pairs))
        return [[float(p.input_ids[1])] for p in pairs]

    batcher = MicroBatcher(forward, max_tokens=10_000, max_size=8)
    batcher.run(_pairs(1, 8), timeout=None)  # learn the cost per padded token
    for deadline in (0.1, 0.05):
        started = time.monotonic()
        out = batcher.run(_pairs(2, 8), timeout=deadline)
        took = time.monotonic() - started
        scored = {j for j, row in enumerate(out) if row is not None}
        assert scored, f"nothing scored within {deadline}s"
        assert all(out[j] == [float(j)] for j in scored)  # each row is its own pair's
        assert took < deadline + 0.03
