"""One in-process backtest run end to end (engine, then report analysis), and several of them in parallel.

A sweep's variants run in worker processes, at most one per core; each reports its
progress through a queue the caller's progress display drains. The engine is the
unchanged `InProcessEngine`: a variant differs only by its settings file.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_mod
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from ops.backtest.inprocess import BacktestConfig, InProcessEngine
from ops.backtest.records import BacktestResult, InputRecord
from ops.report.build import RunMeta, RunReport, analyze

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RunSpec:
    run_id: str
    config: BacktestConfig
    input: str
    params: dict[str, object]


def run_inprocess(spec: RunSpec, records: Sequence[InputRecord],
                  progress: Progress | None = None) -> tuple[RunReport, BacktestResult]:
    result = InProcessEngine(spec.config).run(records, progress=progress)
    meta = RunMeta(spec.run_id, spec.config.account, spec.input, "inprocess", spec.params, result.inputs,
                   result.digest())
    return analyze(result, meta), result


def _variant(index: int, spec: RunSpec, records: Sequence[InputRecord],
             updates: "queue_mod.Queue[tuple[int, int, int]]") -> tuple[RunReport, BacktestResult]:
    return run_inprocess(spec, records, progress=lambda done, total: updates.put((index, done, total)))


def run_parallel(specs: Sequence[RunSpec], records: Sequence[InputRecord], workers: int | None = None,
                 progress: Callable[[int, int, int], None] | None = None) -> list[tuple[RunReport, BacktestResult]]:
    """Every spec on the same records, `workers` at a time (default: the machine's cores); results in spec order."""
    workers = max(1, min(len(specs), workers or os.cpu_count() or 1))
    ctx = multiprocessing.get_context("fork")
    with ctx.Manager() as manager, ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        updates = manager.Queue()
        futures: list[Future[tuple[RunReport, BacktestResult]]] = [
            pool.submit(_variant, i, spec, list(records), updates) for i, spec in enumerate(specs)]
        while True:
            try:
                while True:
                    index, done, total = updates.get_nowait()
                    if progress is not None:
                        progress(index, done, total)
            except queue_mod.Empty:
                pass
            if all(f.done() for f in futures):
                break
            time.sleep(0.1)
        return [f.result() for f in futures]
