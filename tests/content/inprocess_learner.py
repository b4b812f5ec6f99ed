"""A pytest plugin that gives content tests an IN-PROCESS ``learner`` fixture, for checking content only.

Why: the content tests must show that a module's reference passes its own tests and its starter fails them,
even where the real engine (``grading.engine``: sandboxed learner host + judge over a pipe) is not available.
This plugin imports the files of a workspace folder (env ``INPROC_WORKSPACE``) directly and mimics the proxy
semantics that matter to tests: data comes back as values, other objects as proxies, learner exceptions as
``grading.engine.errors.LearnerError`` with the type name. It has no isolation at all: use it only on trusted
reference and starter code, never on learner submissions.

Several workspaces in one process: the ``learner`` fixture takes its folder from the ``learner_workspace``
fixture, which another plugin may parametrize (``tests/content/catalogue_plugin.py`` runs a bug catalogue that
way, one workspace per patch). The first ``learner.module()`` call on a different folder acts as a fresh learner
process: the modules imported from the previous folder are dropped, its folder leaves ``sys.path``, and the learner
gets a new empty temporary folder (``tempfile.tempdir``; the previous one is deleted), so files written for one
workspace (data, checkpoints) are never seen by the next.
"""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

from grading.engine.errors import LearnerError
from grading.engine.judge import GRADED_RUN_MARKER

_DATA = (type(None), bool, int, float, str, bytes, list, tuple, dict)


def _is_data(value: object) -> bool:
    return isinstance(value, _DATA) or type(value).__module__.split(".")[0] in ("torch", "numpy")


class _Proxy:
    def __init__(self, obj: object) -> None:
        object.__setattr__(self, "_obj", obj)

    def __getattr__(self, name: str):
        return _wrap(_guard(getattr, self._obj, name))

    def __call__(self, *args, **kwargs):
        args = tuple(_unwrap(a) for a in args)
        kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
        return _wrap(_guard(self._obj, *args, **kwargs))

    def __setattr__(
        self, name: str, value: object
    ) -> None:  # as the judge's proxy: set it on the learner's object
        _guard(setattr, self._obj, name, _unwrap(value))


def _guard(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # every learner exception crosses as a LearnerError, like the real proxy
        raise LearnerError(type(exc).__name__, str(exc)) from None


def _wrap(value: object):
    return value if _is_data(value) else _Proxy(value)


def _unwrap(value: object):
    """The learner object behind a proxy, also inside lists, tuples and dicts (the real pipe sends handles there)."""
    if isinstance(value, _Proxy):
        return object.__getattribute__(value, "_obj")
    if type(value) in (list, tuple):
        return type(value)(_unwrap(v) for v in value)
    if type(value) is dict:
        return {k: _unwrap(v) for k, v in value.items()}
    return value


class _Active:
    """The workspace whose modules are imported now, and the learner's temporary folder for it."""

    workspace: Path | None = None
    tmp: str | None = None
    #: The judge's own modules that a learner's crate replaced in ``sys.modules`` (name -> module or None).
    shadowed: dict[str, ModuleType | None] = {}


def _drop_tmp() -> None:
    if _Active.tmp is not None:
        shutil.rmtree(_Active.tmp, ignore_errors=True)
        _Active.tmp = None
        tempfile.tempdir = None


atexit.register(_drop_tmp)


def _activate(workspace: Path) -> None:
    """Make ``workspace`` the learner's: a fresh learner process if another one was active before."""
    if _Active.workspace == workspace:
        return
    old = _Active.workspace
    if old is not None:
        prefix = str(old) + os.sep
        for name, mod in list(sys.modules.items()):
            if (getattr(mod, "__file__", None) or "").startswith(prefix):
                del sys.modules[name]
        while str(old) in sys.path:
            sys.path.remove(str(old))
        # Give the judge its own module back (module 2: the reference ``rustbpe`` package, whose submodule stays
        # imported): a fresh ``import rustbpe`` would run the package again without binding that submodule.
        sys.modules.update({k: v for k, v in _Active.shadowed.items() if v is not None})
        _Active.shadowed.clear()
        _drop_tmp()
    sys.path.insert(0, str(workspace))
    importlib.invalidate_caches()
    _Active.tmp = tempfile.tempdir = tempfile.mkdtemp(prefix="inproc-learner-")
    _Active.workspace = workspace


def _rust_module(workspace: Path, crate: str):
    """The workspace's crate, compiled on the host before the run (``scripts.bug_catalogue.prebuild_crates``, as
    the learner host compiles in its sandbox) and imported; its compile error, or "not attempted", raised."""
    from grading.engine import rustbuild

    loaded = sys.modules.get(crate)
    if loaded is not None and (getattr(loaded, "__file__", None) or "").startswith(str(workspace) + os.sep):
        return loaded
    build = workspace / rustbuild.BUILD_DIR
    if (build / f"{crate}.error").is_file():
        raise rustbuild.RustBuildError((build / f"{crate}.error").read_text(encoding="utf-8"))
    if not (build / f"{crate}.so").is_file():
        raise rustbuild.RustBuildError(
            f"{crate}/src/lib.rs is not attempted (or was not built before the run)"
        )
    _Active.shadowed.setdefault(crate, loaded)  # one process: the judge's module comes back at the switch
    return rustbuild.load_extension(crate, build / f"{crate}.so")


class _Learner:
    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.files = {
            str(p.relative_to(workspace)): p.read_text(encoding="utf-8") for p in workspace.rglob("*.py")
        }

    def module(self, name: str) -> _Proxy:
        _activate(self.workspace)
        crate = self.workspace / name.partition(".")[0]
        if (crate / "Cargo.toml").is_file():
            return _Proxy(_guard(_rust_module, self.workspace, crate.name))
        return _Proxy(_guard(importlib.import_module, name))

    def value(self, proxy: object):
        return _unwrap(proxy)

    def repr(self, proxy: object) -> str:
        """``repr()`` of the learner object, as the judge's ``Learner.repr`` computes it in the learner process."""
        return repr(_unwrap(proxy))

    def str(self, proxy: object) -> str:
        """``str()`` of the learner object, as the judge's ``Learner.str``."""
        return str(_unwrap(proxy))


class _Metrics:
    def record(self, name: str, value: float) -> None:
        assert isinstance(name, str) and isinstance(value, int | float)

    def series(self, name: str, values: list[float], *, x=None, title=None, x_label=None) -> None:
        assert isinstance(name, str) and all(isinstance(v, int | float) for v in values)
        assert x is None or len(x) == len(values)
        assert all(t is None or set(t) == {"en", "zh"} for t in (title, x_label))


#: The same registration as the judge's (``grading/engine/judge.py``).
LAB_ADDITION_MARKER = (
    "lab_addition(deviation): the test checks something nanochat 48abd7d does not do or name; the argument is "
    "the id of the module.yaml deviation that explains it"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "step(id): the module.yaml step this test belongs to")
    config.addinivalue_line("markers", "hint(id): the hint to suggest when this test fails")
    config.addinivalue_line("markers", LAB_ADDITION_MARKER)
    config.addinivalue_line("markers", GRADED_RUN_MARKER)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Import torch's lazily loaded compiler stack now, before any test's timeout runs, if the tests use torch.

    A model's first parameter init imports ``torch._dynamo`` (seconds of CPU, far more without a bytecode
    cache). In a learner process that cost falls under a long call limit; here it would fall inside the first
    test's timeout, and an import interrupted by that timeout leaves a half-made module that fails every later
    test of the child.
    """
    if "torch" in sys.modules:
        importlib.import_module("torch._dynamo")


@pytest.fixture
def learner_workspace() -> Path:
    """The workspace folder: env ``INPROC_WORKSPACE`` (a plugin may parametrize this fixture)."""
    return Path(os.environ["INPROC_WORKSPACE"])


@pytest.fixture
def learner(learner_workspace: Path) -> _Learner:
    return _Learner(Path(learner_workspace))


@pytest.fixture
def metrics() -> _Metrics:
    return _Metrics()
