"""A pytest plugin, loaded with ``inprocess_learner``, that runs a module's tests against several workspaces at once.

Used by ``scripts/bug_catalogue.py`` (and ``scripts/upstream_check.py --harness inprocess``): one child pytest per
module judges every patch of its catalogue, instead of one child per patch.

- The manifest (JSON file named by env ``LAB_CATALOGUE_MANIFEST``) lists runs:
  ``{"runs": [{"id": "03-no-bos", "workspace": "/tmp/.../ws", "step": "step2", "select": "step-visible"}]}``.
- Every test that uses the ``learner`` fixture is parametrized over the runs' workspaces through the
  ``learner_workspace`` fixture (session scope, so pytest groups the tests of one workspace together and the
  harness switches workspaces once per run). Tests that never reach learner code cannot judge a workspace and are
  deselected.
- ``select`` keeps, per run: ``step-visible`` the visible tests of ``step`` (the cheap CI check of a patch),
  ``outside-step`` every test of another step, visible or hidden (the near-miss check), ``visible`` every visible
  test, ``all`` everything. A run with ``"first_failure": true`` skips its remaining tests once one has failed
  (a patch is caught by its first failing test; the rest would only cost time).
- A run with ``"graded_runs": false`` leaves out the tests marked ``graded_run`` (a module's graded training run,
  minutes of CPU): the CI checks catch a training step's bugs with its cheap tests (DECISIONS.md, "CI budget").
- Results go to the JSON-lines file named by env ``LAB_CATALOGUE_RESULTS``, written as they happen: first one
  ``selected`` line listing every selected test, then one ``result`` line per finished test (outcome, message, seconds), so a child that dies
  half-way still says what it ran.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

SELECTS = ("step-visible", "outside-step", "visible", "all")
MESSAGE_CHARS = 600


def _manifest() -> list[dict[str, Any]]:
    with open(os.environ["LAB_CATALOGUE_MANIFEST"], encoding="utf-8") as fh:
        runs = json.load(fh)["runs"]
    for run in runs:
        if run["select"] not in SELECTS:
            raise pytest.UsageError(f"catalogue run {run['id']}: unknown select {run['select']!r}")
    return runs


def visibility(path: Path) -> str:
    """``hidden`` for a file under ``tests/hidden``, else ``visible`` (as the judge decides it)."""
    parts = path.parts
    where = len(parts) - 1 - parts[::-1].index("tests") if "tests" in parts else -1
    return "hidden" if where >= 0 and where + 1 < len(parts) and parts[where + 1] == "hidden" else "visible"


def _wanted(select: str, target: str | None, step: str | None, vis: str) -> bool:
    if select == "all":
        return True
    if select == "visible":
        return vis == "visible"
    if select == "step-visible":
        return vis == "visible" and step == target
    return step != target  # outside-step


class CataloguePlugin:
    def __init__(self) -> None:
        self.runs = _manifest()
        self.by_workspace = {str(Path(run["workspace"])): run for run in self.runs}
        self.first_failure = {run["id"]: bool(run.get("first_failure")) for run in self.runs}
        self.tests: dict[str, dict[str, Any]] = {}
        self.failed: dict[str, str] = {}
        self.skipped: set[str] = set()
        self.seconds: dict[str, float] = {}
        self.caught_runs: set[str] = set()
        self.out = open(os.environ["LAB_CATALOGUE_RESULTS"], "w", encoding="utf-8")  # closed at session end

    def _write(self, line: dict[str, Any]) -> None:
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()

    @pytest.hookimpl
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "learner_workspace" in metafunc.fixturenames:
            metafunc.parametrize(
                "learner_workspace",
                [Path(run["workspace"]) for run in self.runs],
                ids=[run["id"] for run in self.runs],
                scope="session",
            )

    @pytest.hookimpl
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        keep, drop = [], []
        for item in items:
            params = dict(getattr(getattr(item, "callspec", None), "params", {}))
            workspace = params.get("learner_workspace")
            run = self.by_workspace.get(str(workspace)) if workspace is not None else None
            marker = item.get_closest_marker("step")
            step = str(marker.args[0]) if marker is not None and marker.args else None
            vis = visibility(Path(str(item.path)))
            graded = item.get_closest_marker("graded_run") is not None
            if (
                run is None
                or not _wanted(run["select"], run.get("step"), step, vis)
                or (graded and not run.get("graded_runs", True))
            ):
                drop.append(item)
                continue
            others = {k: v for k, v in params.items() if k != "learner_workspace"}
            name = getattr(item, "originalname", item.name)
            if others:
                name += "[" + "-".join(str(v) for v in others.values()) + "]"
            test = f"{vis}/{item.path.name}::{name}"
            self.tests[item.nodeid] = {"run": run["id"], "test": test, "step": step, "visibility": vis}
            keep.append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        self._write({"kind": "selected", "tests": list(self.tests.values())})

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        info = self.tests.get(item.nodeid)
        if info is not None and info["run"] in self.caught_runs:
            pytest.skip("an earlier test of this run failed already")

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        info = self.tests.get(report.nodeid)
        if info is None:
            return
        if report.failed and self.first_failure.get(info["run"]):
            self.caught_runs.add(info["run"])
        if report.failed and report.nodeid not in self.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            message = crash.message if crash is not None else report.longreprtext
            self.failed[report.nodeid] = f"{report.when}: {message}"[:MESSAGE_CHARS]
        if report.skipped:
            self.skipped.add(report.nodeid)
        self.seconds[report.nodeid] = self.seconds.get(report.nodeid, 0.0) + float(report.duration)
        if report.when == "teardown":
            if report.nodeid in self.failed:
                outcome, message = "failed", self.failed[report.nodeid]
            else:
                outcome, message = ("skipped" if report.nodeid in self.skipped else "passed"), ""
            seconds = round(self.seconds.pop(report.nodeid, 0.0), 3)
            self._write({"kind": "result", "run": info["run"], "test": info["test"], "outcome": outcome,
                         "message": message, "seconds": seconds})  # fmt: skip

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.out.close()


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(CataloguePlugin(), "lab-catalogue")
