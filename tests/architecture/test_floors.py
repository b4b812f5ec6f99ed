"""The floors hold: no dependency cycle between the Django apps (nor an import cycle between their modules), every
dependency goes down a floor, the grading engine and the sandbox stay free of Django, and no app reaches into
another app's views.

Floors (README, "Layout"): ``labplatform`` → ``analytics`` (``grading/analytics``, which reads every app below
it) → ``discussions`` (``grading/discussions``) → ``grading`` →
``modules``; ``grading.engine`` (with its CLI, ``grading/__main__.py``) is a Django-free library below the
grading app; ``modules.spec`` / ``modules.starters`` are the Django-free part of modules that the engine shares;
``sandbox`` sits at the bottom and imports no app.

Dependencies are read from the source with ``ast`` (nothing is imported, so a cycle cannot hide behind import
order): every ``import`` / ``from ... import`` in a file (module level, inside functions, under
``TYPE_CHECKING``), a model named by string in a relation (``ForeignKey("grading.Submission")``, a migration's
``to="grading.submission"``), and a migration's ``dependencies`` on another app's migrations. A second check
asks Django's model registry, so a relation spelled some other way is caught too.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.apps import apps

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("labplatform", "modules", "grading", "sandbox")

#: Modules of ``modules`` that must stay Django-free (the module spec the engine shares); a package here covers
#: its submodules. A name here that does not exist yet is simply not checked.
DJANGO_FREE_MODULES = ("modules.spec", "modules.starters")

#: Units of the floors and the module prefixes they own, most specific first.
UNITS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("grading.engine", ("grading.engine", "grading.__main__")),
    ("analytics", ("grading.analytics",)),
    ("discussions", ("grading.discussions",)),
    ("modules.spec", DJANGO_FREE_MODULES),
    ("labplatform", ("labplatform",)),
    ("grading", ("grading",)),
    ("modules", ("modules",)),
    ("sandbox", ("sandbox",)),
)

#: What each unit stands on directly; it may depend on these and, through them, on everything further down.
STANDS_ON: dict[str, frozenset[str]] = {
    "labplatform": frozenset({"analytics"}),
    "analytics": frozenset({"discussions"}),
    "discussions": frozenset({"grading"}),
    "grading": frozenset({"grading.engine", "modules"}),
    "grading.engine": frozenset({"modules.spec", "sandbox"}),
    "modules": frozenset({"modules.spec"}),
    "modules.spec": frozenset({"sandbox"}),
    "sandbox": frozenset(),
}

DJANGO_FREE_UNITS = frozenset({"grading.engine", "modules.spec", "sandbox"})
DJANGO_PACKAGES = frozenset({"django", "rest_framework", "channels", "channels_redis", "daphne"})

#: Django app labels of our apps, to read ``"app_label.Model"`` and migration dependencies. ``lti``
#: (``modules/lti``, the LTI 1.3 tool) is part of the modules floor: progress owes it scores, it reads modules.
APP_LABELS = {
    "modules": "modules",
    "lti": "modules",
    "grading": "grading",
    "milestones": "grading",
    "similarity": "grading",
    "assemble": "grading",
    "discussions": "discussions",
    "analytics": "analytics",
}

RELATION_FIELDS = frozenset({"ForeignKey", "OneToOneField", "ManyToManyField"})

#: The project's URL map mounts the apps' page views: composing them is what ``labplatform`` is for.
MAY_IMPORT_VIEWS = ("labplatform.urls",)


@dataclass(frozen=True)
class Dependency:
    source: str  # dotted module name of the file
    path: str  # the file, relative to the repository
    line: int
    target: str  # a dotted module name, or an app label's unit for relations and migrations
    text: str  # the import statement or the reference as written
    kind: str  # "import", "relation", "migration"

    def where(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


def closure(graph: dict[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """Everything each node reaches (itself excluded)."""
    reached: dict[str, frozenset[str]] = {}

    def visit(node: str) -> frozenset[str]:
        if node not in reached:
            below: set[str] = set()
            for child in graph[node]:
                below |= {child} | visit(child)
            reached[node] = frozenset(below)
        return reached[node]

    for node in graph:
        visit(node)
    return reached


MAY_DEPEND_ON = closure(STANDS_ON)


def unit_of(module: str) -> str | None:
    """The floor unit of a dotted module name of ours, or None for anything else (stdlib, third party)."""
    for unit, prefixes in UNITS:
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return unit
    return None


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(root: Path) -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((root / package).rglob("*.py"))


def _absolute(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of a (possibly relative) ``from`` import in ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _model_label(node: ast.Call) -> str | None:
    """The ``"app_label.Model"`` string a relation field names, if it names one by string."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name not in RELATION_FIELDS:
        return None
    candidates = list(node.args[:1]) + [kw.value for kw in node.keywords if kw.arg == "to"]
    for value in candidates:
        if isinstance(value, ast.Constant) and isinstance(value.value, str) and "." in value.value:
            return value.value
    return None


def _migration_dependencies(tree: ast.Module) -> Iterator[tuple[int, str, str]]:
    """(line, app label, text) of every ``dependencies = [("app", "NNNN_name"), ...]`` entry."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign) or not any(
            isinstance(t, ast.Name) and t.id == "dependencies" for t in node.targets
        ):
            continue
        if not isinstance(node.value, ast.List | ast.Tuple):
            continue
        for item in node.value.elts:
            if (
                isinstance(item, ast.Tuple)
                and item.elts
                and isinstance(item.elts[0], ast.Constant)
                and isinstance(item.elts[0].value, str)
            ):
                yield item.lineno, item.elts[0].value, ast.unparse(item)


def dependencies(root: Path = REPO_ROOT) -> list[Dependency]:
    """Every dependency of our packages' files, as written in the source."""
    files = list(source_files(root))
    known = {module_name(path, root) for path in files}
    found: list[Dependency] = []
    for path in files:
        source = module_name(path, root)
        rel = path.relative_to(root).as_posix()
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)

        def add(target: str, node: ast.AST, kind: str, text: str | None = None) -> None:
            line = getattr(node, "lineno", 0)
            found.append(Dependency(source, rel, line, target, text or ast.unparse(node), kind))  # noqa: B023

        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name, node, "import")
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(source, is_package, node.level, node.module)
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    add(submodule if submodule in known else base, node, "import")
            elif isinstance(node, ast.Call) and (label := _model_label(node)) is not None:
                app_label = label.split(".")[0]
                if app_label in APP_LABELS:
                    add(APP_LABELS[app_label], node, "relation", f"{ast.unparse(node.func)}({label!r}, ...)")
        if "migrations" in path.relative_to(root).parts:
            for line, app_label, text in _migration_dependencies(tree):
                if app_label in APP_LABELS:
                    found.append(Dependency(source, rel, line, APP_LABELS[app_label], text, "migration"))
    return list(
        dict.fromkeys(found)
    )  # one per (file, line, target): ``from x import a, b`` is one dependency


def _target_unit(dep: Dependency) -> str | None:
    return dep.target if dep.kind != "import" else unit_of(dep.target)


def unit_edges(deps: Iterable[Dependency]) -> dict[tuple[str, str], list[Dependency]]:
    """Dependencies between different units, grouped by (from, to)."""
    edges: dict[tuple[str, str], list[Dependency]] = defaultdict(list)
    for dep in deps:
        source, target = unit_of(dep.source), _target_unit(dep)
        if source is not None and target is not None and source != target:
            edges[(source, target)].append(dep)
    return edges


def cycles(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
        graph[b]
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for child in sorted(graph[node]):
            if child not in index:
                connect(child)
                low[node] = min(low[node], low[child])
            elif child in on_stack:
                low[node] = min(low[node], index[child])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


#: How many dependencies of each direction a cycle's message lists.
EXAMPLES = 4


def _explain(component: list[str], edges: dict[tuple[str, str], list[Dependency]]) -> str:
    lines = [" <-> ".join(component)]
    for (a, b), deps in sorted(edges.items()):
        if a in component and b in component:
            lines += [f"  {a} -> {b}: {dep.where()}" for dep in deps[:EXAMPLES]]
            lines += [f"  {a} -> {b}: ... and {len(deps) - EXAMPLES} more"] if len(deps) > EXAMPLES else []
    return "\n".join(lines)


# --- the checks, as functions of the dependency list (so the tests below can also feed them a planted leak) -----
def app_cycle_problems(deps: list[Dependency]) -> list[str]:
    edges = unit_edges(deps)
    return [f"dependency cycle between apps: {_explain(c, edges)}" for c in cycles(edges)]


def floor_problems(deps: list[Dependency]) -> list[str]:
    problems = []
    for (source, target), found in sorted(unit_edges(deps).items()):
        if target not in MAY_DEPEND_ON[source]:
            problems += [
                f"{dep.where()}  ({source} may not depend on {target}: a higher floor)" for dep in found
            ]
    return problems


def django_free_problems(deps: list[Dependency]) -> list[str]:
    problems = []
    for dep in deps:
        unit = unit_of(dep.source)
        if unit not in DJANGO_FREE_UNITS or dep.kind != "import":
            continue
        top = dep.target.split(".")[0]
        target_unit = unit_of(dep.target)
        if top in DJANGO_PACKAGES:
            problems.append(f"{dep.where()}  ({unit} must not import Django)")
        elif target_unit is not None and target_unit not in DJANGO_FREE_UNITS:
            problems.append(f"{dep.where()}  ({unit} must not import the Django app {target_unit})")
    return problems


def module_cycle_problems(deps: list[Dependency]) -> list[str]:
    """Import cycles between the modules of the Django apps (``grading.services`` <-> ``grading.tasks``, say)."""
    django_units = set(MAY_DEPEND_ON) - DJANGO_FREE_UNITS
    edges: dict[tuple[str, str], list[Dependency]] = defaultdict(list)
    for dep in deps:
        if (
            dep.kind == "import"
            and unit_of(dep.source) in django_units
            and unit_of(dep.target) in django_units
        ):
            if dep.source != dep.target:
                edges[(dep.source, dep.target)].append(dep)
    return [f"import cycle between modules: {_explain(c, edges)}" for c in cycles(edges)]


def views_problems(deps: list[Dependency]) -> list[str]:
    problems = []
    for dep in deps:
        if dep.kind != "import" or dep.source in MAY_IMPORT_VIEWS:
            continue
        target_unit, source_unit = unit_of(dep.target), unit_of(dep.source)
        if target_unit is not None and target_unit != source_unit and dep.target.split(".")[-1] == "views":
            problems.append(f"{dep.where()}  ({source_unit} imports the views of {target_unit})")
    return problems


CHECKS = {
    "app cycles": app_cycle_problems,
    "floors": floor_problems,
    "django-free": django_free_problems,
    "module cycles": module_cycle_problems,
    "views": views_problems,
}


@pytest.fixture(scope="module")
def deps() -> list[Dependency]:
    return dependencies()


def assert_clean(problems: list[str]) -> None:
    assert not problems, "\n" + "\n".join(problems)


# --- the repository ------------------------------------------------------------------------------------------------
def test_the_apps_form_no_dependency_cycle(deps):
    assert_clean(app_cycle_problems(deps))


def test_every_dependency_goes_down_the_floors(deps):
    assert_clean(floor_problems(deps))


def test_the_engine_the_spec_and_the_sandbox_stay_free_of_django(deps):
    assert_clean(django_free_problems(deps))


def test_no_import_cycle_between_modules_of_the_django_apps(deps):
    assert_clean(module_cycle_problems(deps))


def test_no_app_imports_another_apps_views(deps):
    assert_clean(views_problems(deps))


def test_every_model_relation_goes_down_the_floors():
    """Django's registry, whatever way a relation was spelled in the source."""
    problems = []
    for model in apps.get_models():
        source = unit_of(model.__module__)
        if source is None:
            continue
        for field in model._meta.get_fields():
            related = field.related_model
            if not field.concrete or related is None or isinstance(related, str):
                continue
            target = unit_of(related.__module__)
            if target is not None and target != source and target not in MAY_DEPEND_ON[source]:
                problems.append(
                    f"{model._meta.label}.{field.name} -> {related._meta.label}  ({source} -> {target})"
                )
    assert_clean(problems)


def test_every_app_of_ours_has_a_floor():
    ours = [config for config in apps.get_app_configs() if config.name.split(".")[0] in PACKAGES]
    assert {config.label for config in ours} <= set(APP_LABELS) | {"labplatform"}
    assert all(unit_of(config.name) in MAY_DEPEND_ON for config in ours)


# --- the checks themselves catch a leak ----------------------------------------------------------------------------
def _tree(tmp_path: Path, files: dict[str, str]) -> list[Dependency]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for package in PACKAGES:
        (tmp_path / package).mkdir(exist_ok=True)
    return dependencies(tmp_path)


def test_the_checks_name_each_kind_of_leak_by_file_and_line(tmp_path):
    deps = _tree(
        tmp_path,
        {
            "modules/__init__.py": "",
            "modules/models.py": (
                "from django.db import models\n\n"
                "class Thread(models.Model):\n"
                '    submission = models.ForeignKey("grading.Submission", on_delete=models.CASCADE)\n'
            ),
            "modules/migrations/0002_x.py": 'dependencies = [("grading", "0001_initial")]\n',
            "grading/__init__.py": "",
            "grading/views.py": "from modules.views import LabAPIView\n",
            "grading/services.py": "def go():\n    from grading.tasks import enqueue\n",
            "grading/tasks.py": "from grading import services\n",
            "grading/engine/__init__.py": "",
            "grading/engine/runner.py": "from .workspace import x\nimport django.conf\nfrom modules import models\n",
            "grading/engine/workspace.py": "x = 1\n",
            "sandbox/base.py": "def f():\n    from grading.engine import runner\n",
        },
    )
    found = {name: "\n".join(check(deps)) for name, check in CHECKS.items()}
    assert "grading <-> modules" in found["app cycles"]
    assert "modules/models.py:4: models.ForeignKey('grading.Submission', ...)" in found["app cycles"]
    assert "modules/migrations/0002_x.py:1: ('grading', '0001_initial')" in found["floors"]
    assert "sandbox/base.py:2: from grading.engine import runner" in found["floors"]
    assert "grading/engine/runner.py:2: import django.conf" in found["django-free"]
    assert "grading/engine/runner.py:3: from modules import models" in found["django-free"]
    assert "workspace" not in found["django-free"]  # a relative import inside the engine is its own business
    assert "grading.services <-> grading.tasks" in found["module cycles"]
    assert "grading/services.py:2: from grading.tasks import enqueue" in found["module cycles"]
    assert "grading/views.py:1: from modules.views import LabAPIView" in found["views"]


def test_the_django_free_allow_list_is_checked_too(tmp_path):
    deps = _tree(tmp_path, {"modules/spec.py": "from modules.models import Module\n"})
    assert django_free_problems(deps) == [
        "modules/spec.py:1: from modules.models import Module  (modules.spec must not import the Django app modules)"
    ]
