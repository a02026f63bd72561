"""The progress display holds only what is running: it is redrawn in the benchmark's own
process, so finished bars left in it would slow every later measurement."""

from __future__ import annotations

import io

from rich.console import Console
from rich.progress import Progress

from cimhub.bench.context import Context
from cimhub.bench.plan import Plan


def test_a_finished_task_leaves_the_live_display_and_is_printed_once() -> None:
    console = Console(file=io.StringIO(), width=120)
    with Progress(console=console) as progress:
        ctx = Context(Plan(quick=True), progress, ("sqlite",), pin=False)
        for name in ("ingest sqlite 1×96 run 1/2", "ingest sqlite 1×96 run 2/2"):
            with ctx.task(name, 96) as advance:
                advance(96)
                assert len(progress.tasks) == 1  # the running one, nothing finished
        assert progress.tasks == []
    assert isinstance(console.file, io.StringIO)
    printed = console.file.getvalue()
    assert printed.count("ingest sqlite 1×96 run 1/2: ") == 1
    assert printed.count("ingest sqlite 1×96 run 2/2: ") == 1
