"""The module spec: one typed, validated view of ``content/NN-slug/module.yaml``, shared by platform and grader.

Design choices:
- Django-free and torch-free, so the grading engine (which must not import Django) and the content sync read a
  module through the same :func:`load`; there is no second loader. ``modules.starters`` builds the learner's
  starter files from the references this spec names.
- Shapes are checked by the JSON Schema ``content/schema/module.schema.json`` (the one beside the content folder
  wins, for self-contained fixture courses); rules a schema says badly (safe paths, steps that exist, one stub per
  function) are checked here. Every problem is collected, so one run reports them all (:class:`SpecError`).
- A file's ``reference`` is either a file of the reference package (``nanochat_ref/...``, relative to the
  repository root), a file of the Rust crate (``rustbpe/...``, likewise) or a file of the module itself (relative
  to its folder, e.g. ``reference/hello.py``).
- A Rust learner file names its crate (:class:`Crate`): the engine compiles the learner's crate inside their
  sandbox when they attempted it (:func:`crate_attempted`), which sends the run to the ``long`` lane
  (:func:`submission_lane`). Only the marked regions of a Rust file are the learner's
  (:func:`rust_regions_check`): the rest must stay the reference's text and a region may not reach files or the
  environment at compile time, so compiling never runs or reads anything the learner did not write in place.
- A step may be ``optional``: its tests are shown and scored, but the module passes without them.
- Learner files are checked in one place, :func:`validate_files`, against one set of limits (:class:`FileLimits`:
  defaults here; a module may set its own up to the schema's maximum), for drafts, submissions, the code tools,
  the CLI and the engine alike. A violation is a :class:`SubmissionError` with a stable ``code``;
  callers that speak to learners translate by code.
- Fields that later work fills are typed here from the start (``needs``, ``gates``, ``facts``, ``deviations``),
  so no second spec appears: see ``content/schema/README.md`` for what each holds. A fact's or deviation's
  upstream place becomes a link to nanochat at the pinned commit (:func:`upstream_url`), the one place that
  spells nanochat's address and commit.
- :func:`load` caches by the module.yaml's (path, mtime, size) and the schema's, so a worker does not re-read and
  re-validate a module per job.
- A module's grading lane (``short`` | ``long`` | ``gpu``: ``DECISIONS.md``, "Queues") is one rule,
  :func:`lane_of`: ``gpu`` when ``limits.gpu``, else the declared ``lane`` (default ``short``). The platform routes
  and pre-warms by it, on a parsed spec (:attr:`ModuleSpec.lane`) or on a synced module's stored mapping.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_NAME = "module.schema.json"
REFERENCE_PACKAGE = "nanochat_ref/"
#: Folders at the repository root a learner file's ``reference`` may name besides the reference package.
REPOSITORY_REFERENCES = (REFERENCE_PACKAGE, "rustbpe/")
#: nanochat's repository and the commit the lab mirrors (``nanochat_ref``), for links to upstream sources.
UPSTREAM_REPOSITORY = "https://github.com/karpathy/nanochat"
UPSTREAM_COMMIT = "48abd7d"
STEP_RE = re.compile(r"^step([0-9]+)$")
IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
REGION_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
#: The sandbox limits a module may set, and the engine's per-call deadline (``call_seconds``, kept apart by the runner).
SANDBOX_LIMIT_KEYS = ("wall_seconds", "memory_bytes", "gpu", "call_seconds", "cpu_seconds")
#: The grading lanes: ordinary tests (seconds), graded training runs (minutes), jobs that need a GPU.
LANES = ("short", "long", "gpu")
DEFAULT_LANE = "short"

KIB = 1024
#: Default caps on learner files: per file and for all of a module's files together (the schema caps what a
#: module may ask for; the web tier's request cap, ``LAB_REQUEST_MAX_BYTES``, sits above both).
DEFAULT_FILE_BYTES = 256 * KIB
DEFAULT_TOTAL_BYTES = 512 * KIB


class SpecError(ValueError):
    """A module.yaml (or a reference it names) that cannot be used; ``problems`` lists every finding."""

    def __init__(self, where: str, problems: list[str]) -> None:
        super().__init__(f"{where}: " + "; ".join(problems))
        self.where = where
        self.problems = problems


class SubmissionError(ValueError):
    """Learner files the platform refuses (a learner problem, never a platform fault).

    ``code`` is stable (``files_invalid``, ``unknown_file``, ``path_invalid``, ``binary_file``, ``not_utf8``,
    ``too_large``, ``rust_outside_regions``, ``rust_denied``); ``params`` fill a translated message; ``str()`` is the English message.
    """

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.code = code
        self.template = message
        self.params = params


@dataclass(frozen=True)
class Stub:
    """One piece of a reference file the learner writes: a whole function body, or a marked region.

    ``function`` is a qualified name (``norm``, ``GPT.forward``); ``region`` names a pair of marker comments
    (``# lab: begin <name>`` … ``# lab: end <name>``) in the reference. ``doc`` replaces the function's docstring in
    the starter (the learner-facing specification); ``todo`` is the text of the ``NotImplementedError``.
    ``stand_in`` is the body learners of earlier modules get instead of this part while they have not written it
    (only for parts those modules call in passing, such as report logging); default: it raises "not yet".
    """

    step: str
    todo: str
    function: str | None = None
    region: str | None = None
    doc: str | None = None
    stand_in: str | None = None

    @property
    def step_number(self) -> int:
        match = STEP_RE.match(self.step)
        return int(match.group(1)) if match else 0

    @property
    def target(self) -> str:
        return self.function if self.function is not None else f"region {self.region}"

    @property
    def message(self) -> str:
        """The ``NotImplementedError`` text: ``TODO(step N): <todo>``."""
        return f"TODO(step {self.step_number}): {self.todo}"


@dataclass(frozen=True)
class Crate:
    """The Rust crate a learner file belongs to: its folder at the repository root (``rustbpe``), the Python
    extension module it builds (imported by that name in the learner's sandbox) and the seconds its compile may
    take (added to the run's wall clock when the learner attempted the file)."""

    root: str
    module: str
    build_seconds: int

    @property
    def files(self) -> tuple[str, ...]:
        """The crate's files besides the learner's, copied from the repository into the workspace as they are."""
        return tuple(f"{self.root}/{name}" for name in ("Cargo.toml", "Cargo.lock", ".cargo/config.toml"))


@dataclass(frozen=True)
class LearnerFile:
    """A file the learner edits: its workspace path, the reference it is cut from, and the stubs cut out."""

    path: str
    reference: str
    stubs: tuple[Stub, ...] = ()
    crate: Crate | None = None

    @property
    def in_reference_package(self) -> bool:
        return self.reference.startswith(REFERENCE_PACKAGE)

    @property
    def in_repository(self) -> bool:
        """The reference is a repository file (``nanochat_ref/...``, ``rustbpe/...``), not one of the module's."""
        return self.reference.startswith(REPOSITORY_REFERENCES)

    def reference_path(self, module_root: Path, repo_root: Path = REPO_ROOT) -> Path:
        if self.in_repository:
            return repo_root / self.reference
        return module_root / self.reference

    @property
    def reference_package_path(self) -> str | None:
        """``nanochat/<file>`` for a file of the reference package (how the workspace names it), else None."""
        if not self.in_reference_package:
            return None
        return "nanochat/" + self.reference.removeprefix(REFERENCE_PACKAGE)


@dataclass(frozen=True)
class Step:
    """A graded step. ``upstream`` names nanochat places it is built on beyond its stubs (``{file, symbol?}``)."""

    id: str
    title: Mapping[str, str]
    upstream: tuple[Mapping[str, str], ...] = ()
    #: Shown and scored, but not needed to pass the module (e.g. module 2's Rust step).
    optional: bool = False


@dataclass(frozen=True)
class FileLimits:
    file_bytes: int = DEFAULT_FILE_BYTES
    total_bytes: int = DEFAULT_TOTAL_BYTES


@dataclass(frozen=True)
class Fact:
    """A fact a guide states about nanochat, with where upstream it comes from (checked against the reference).

    ``source`` is ``{file, symbol, lines, commit}`` in nanochat's repository. A fact with a ``value`` is checked
    against the reference (``modules.facts``): the value of ``check`` — a symbol in the mirror of
    ``source.file`` under ``nanochat_ref/`` — or, by default, of ``source.symbol`` there.
    """

    id: str
    text: Mapping[str, str]
    source: Mapping[str, Any]
    value: Any = None
    check: str | None = None

    @property
    def url(self) -> str:
        return upstream_url(self.source)


@dataclass(frozen=True)
class Deviation:
    """A place where the lab deliberately differs from nanochat at the pinned commit."""

    id: str
    text: Mapping[str, str]
    upstream: Mapping[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str | None:
        return upstream_url(self.upstream) if self.upstream else None


@dataclass(frozen=True)
class RubricQuestion:
    """One question a reviewer answers about a learner's work (the capstone's peer review): the design questions
    the product spec asks; ``kind`` is ``scale`` (1-5, with ``guide`` saying what a 5 looks like) or ``text``."""

    id: str
    kind: str
    prompt: Mapping[str, str]
    guide: Mapping[str, str] = field(default_factory=dict)


def upstream_url(source: Mapping[str, Any]) -> str:
    """The GitHub address of an upstream place ``{file, lines?, commit?}``, at the pinned commit by default."""
    url = f"{UPSTREAM_REPOSITORY}/blob/{source.get('commit') or UPSTREAM_COMMIT}/{source['file']}"
    lines = str(source.get("lines") or "")
    if lines:
        first, _, last = lines.partition("-")
        url += f"#L{first}" + (f"-L{last}" if last else "")
    return url


#: The micro-survey's default questions; ``{topic}`` is the module's ``survey.topic``, else its title.
SURVEY_DEFAULTS: Mapping[str, Mapping[str, str]] = {
    "confidence_before": {
        "en": "How confident are you about {topic}?",
        "zh": "你对「{topic}」有多大把握？",
    },
    "confidence_after": {
        "en": "Now that you passed: how confident are you about {topic}?",
        "zh": "通过之后，你对「{topic}」有多大把握？",
    },
    "difficulty": {"en": "How difficult was this module?", "zh": "这个模块有多难？"},
    "helpfulness": {
        "en": "How helpful were the guide and the hints?",
        "zh": "讲义和提示对你有多大帮助？",
    },
    "comment": {
        "en": "Anything we should change? (optional)",
        "zh": "有什么需要我们改进的吗？（可选）",
    },
}


@dataclass(frozen=True)
class SurveyPrompts:
    """The micro-survey's texts as module.yaml's ``survey`` authors them (each ``{en, zh}``; missing: default)."""

    topic: Mapping[str, str] = field(default_factory=dict)
    questions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def texts(self, *, lang: str, title: Mapping[str, str]) -> dict[str, str]:
        """Every question in ``lang`` ("en" | "zh"), the default ones with the topic filled in."""
        topic = self.topic.get(lang) or title.get(lang) or title.get("en", "")
        out = {}
        for key, default in SURVEY_DEFAULTS.items():
            authored = self.questions.get(key)
            out[key] = authored[lang] if authored else default[lang].format(topic=topic)
        return out


@dataclass(frozen=True)
class ModuleSpec:
    """Everything module.yaml says, typed. ``root`` is the module folder."""

    slug: str
    order: int
    status: str
    title: Mapping[str, str]
    summary: Mapping[str, str]
    prerequisites: tuple[str, ...]
    goals: Mapping[str, tuple[str, ...]]
    files: tuple[LearnerFile, ...]
    steps: tuple[Step, ...]
    runtime: str
    root: Path
    lane: str = DEFAULT_LANE
    limits: Mapping[str, Any] = field(default_factory=dict)
    file_limits: FileLimits = FileLimits()
    needs: tuple[str, ...] = ()
    gates: Mapping[str, Any] = field(default_factory=dict)
    facts: tuple[Fact, ...] = ()
    deviations: tuple[Deviation, ...] = ()
    review_rubric: tuple[RubricQuestion, ...] = ()
    review_material: str = ""  # the visible test whose output the reviewer reads beside the rubric
    survey: SurveyPrompts = SurveyPrompts()

    @property
    def editable_paths(self) -> list[str]:
        return [f.path for f in self.files]

    @property
    def step_ids(self) -> list[str]:
        return [s.id for s in self.steps]

    @property
    def gpu(self) -> bool:
        return bool(self.limits.get("gpu", False))

    @property
    def optional_steps(self) -> frozenset[str]:
        return frozenset(s.id for s in self.steps if s.optional)

    def file(self, path: str) -> LearnerFile:
        for entry in self.files:
            if entry.path == path:
                return entry
        raise KeyError(path)


def lane_of(data: Mapping[str, Any] | None) -> str:
    """The grading lane of a module.yaml mapping: ``gpu`` if its ``limits.gpu``, else its ``lane`` (``short``)."""
    data = data or {}
    if (data.get("limits") or {}).get("gpu"):
        return "gpu"
    lane = data.get("lane") or DEFAULT_LANE
    return lane if lane in LANES else DEFAULT_LANE


#: "Assemble your own nanochat" (``DECISIONS.md``): per stage, the nanochat files its pipeline trains and chats
#: with. The stage opens once every module that writes one of them, and everything those modules build on, is
#: completed (:func:`assemble_modules`): the base model needs base training and what it builds on; the chat model
#: needs SFT (hence midtraining) and the engine with tool use, which its chat runs on.
ASSEMBLE_STAGES: dict[str, tuple[str, ...]] = {
    "base": ("nanochat/scripts/base_train.py",),
    "chat": ("nanochat/scripts/chat_sft.py", "nanochat/engine.py", "nanochat/execution.py"),
}


def assemble_modules(stage: str, specs: Mapping[str, ModuleSpec]) -> list[str]:
    """The modules (slugs, course order) a learner completes before assembling ``stage``: the writers of the
    stage's files (:data:`ASSEMBLE_STAGES`) and their prerequisites, transitively."""
    writers = owners(specs)
    found: set[str] = set()
    for path in ASSEMBLE_STAGES[stage]:
        for slug in writers.get(path, []):
            found |= {slug, *ancestors(slug, specs)}
    return sorted(found, key=lambda slug: (specs[slug].order, slug) if slug in specs else (10**6, slug))


def crate_attempted(entry: LearnerFile, text: str) -> bool:
    """Whether the learner worked on a Rust file: some region's ``unimplemented!("TODO(step N) ...")`` is gone.

    An untouched starter is not compiled (its step's tests fail at once, saying so), so only a learner who
    attempted the Rust step waits for a compile.
    """
    return entry.crate is not None and any(stub.message not in text for stub in entry.stubs)


def submission_lane(spec: ModuleSpec, files: Mapping[str, str]) -> str:
    """The lane one submission runs on: the module's, or ``long`` when it makes the engine compile a crate."""
    if spec.lane == "gpu":
        return spec.lane
    for entry in spec.files:
        if entry.path in files and crate_attempted(entry, files[entry.path]):
            return "long"
    return spec.lane


# --- loading -------------------------------------------------------------------------------------------------------
def schema_path(module_root: Path) -> Path:
    """The schema beside the content folder (a self-contained course), else the repository's."""
    beside = module_root.parent / "schema" / SCHEMA_NAME
    return beside if beside.is_file() else REPO_ROOT / "content" / "schema" / SCHEMA_NAME


_schema_cache: dict[tuple[str, int, int], Any] = {}
_spec_cache: dict[tuple[Any, ...], ModuleSpec] = {}
_cache_lock = threading.Lock()


def _stat_key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


def _validator(path: Path) -> Any:
    key = _stat_key(path)
    with _cache_lock:
        cached = _schema_cache.get(key)
    if cached is None:
        schema = json.loads(path.read_text(encoding="utf-8"))
        cached = jsonschema.validators.validator_for(schema)(schema)
        with _cache_lock:
            _schema_cache[key] = cached
    return cached


def load(module_root: Path) -> ModuleSpec:
    """Read and validate ``module_root/module.yaml``; raises :class:`SpecError` listing every problem."""
    module_root = Path(module_root)
    yaml_path = module_root / "module.yaml"
    if not yaml_path.is_file():
        raise SpecError(module_root.name, ["module.yaml is missing"])
    schema = schema_path(module_root)
    key = (_stat_key(yaml_path), _stat_key(schema))
    with _cache_lock:
        cached = _spec_cache.get(key)
    if cached is not None:
        return cached
    try:
        data = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SpecError(module_root.name, [f"module.yaml: {exc}"]) from None
    spec = parse(data, root=module_root, schema=schema)
    with _cache_lock:
        _spec_cache[key] = spec
    return spec


def parse(data: Any, *, root: Path, schema: Path | None = None) -> ModuleSpec:
    """Validate a loaded module.yaml mapping (e.g. a synced module's stored metadata) into a :class:`ModuleSpec`."""
    root = Path(root)
    where = root.name
    problems: list[str] = []
    validator = _validator(schema or schema_path(root))
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.path)):
        at = "/".join(str(p) for p in error.path) or "(root)"
        problems.append(f"module.yaml {at}: {error.message}")
    if problems:
        raise SpecError(where, problems)
    assert isinstance(data, dict)  # the schema says so

    steps = tuple(
        Step(
            id=s["id"],
            title=dict(s["title"]),
            upstream=tuple(dict(u) for u in s.get("upstream") or ()),
            optional=bool(s.get("optional", False)),
        )
        for s in data["steps"]
    )
    step_ids = {s.id for s in steps}
    if len(step_ids) != len(steps):
        problems.append("steps: step ids must be unique")
    files = tuple(_learner_file(entry, step_ids, problems) for entry in data["files"])
    paths = [f.path for f in files]
    if len(set(paths)) != len(paths):
        problems.append("files: each path may appear once")
    for entry in files:
        if not entry.in_repository and not _is_module_local(entry.reference):
            problems.append(
                f"files {entry.path}: reference {entry.reference!r} must be nanochat_ref/..., rustbpe/... or a path inside the module folder"
            )
        if entry.path.endswith(".rs") != (entry.crate is not None):
            problems.append(f"files {entry.path}: a Rust file, and only a Rust file, names its crate")
    for need in data.get("needs") or ():
        if need in paths:
            problems.append(f"needs: {need} is a learner file of this module, not a need")
    limits = dict(data.get("limits") or {})
    file_limits = FileLimits(
        file_bytes=int(limits.pop("file_bytes", DEFAULT_FILE_BYTES)),
        total_bytes=int(limits.pop("total_bytes", DEFAULT_TOTAL_BYTES)),
    )
    if file_limits.total_bytes < file_limits.file_bytes:
        problems.append("limits: total_bytes must be at least file_bytes")
    gates = dict(data.get("gates") or {})
    facts = tuple(
        Fact(
            id=f["id"],
            text=dict(f["text"]),
            source=dict(f["source"]),
            value=f.get("value"),
            check=f.get("check"),
        )
        for f in data.get("facts") or ()
    )
    deviations = tuple(
        Deviation(id=d["id"], text=dict(d["text"]), upstream=dict(d.get("upstream") or {}))
        for d in data.get("deviations") or ()
    )
    review_rubric = tuple(
        RubricQuestion(id=q["id"], kind=q["kind"], prompt=dict(q["prompt"]), guide=dict(q.get("guide") or {}))
        for q in data.get("review_rubric") or ()
    )
    for kind, items in (("facts", facts), ("deviations", deviations), ("review_rubric", review_rubric)):
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            problems.append(f"{kind}: ids must be unique")
    for kind, item_id, place in [("facts", f.id, f.source) for f in facts] + [
        ("deviations", d.id, d.upstream) for d in deviations
    ]:
        first, _, last = str(place.get("lines") or "").partition("-")
        if last and int(last) < int(first):
            problems.append(f"{kind} {item_id}: lines {place['lines']!r} must run forwards")
    if problems:
        raise SpecError(where, problems)
    return ModuleSpec(
        slug=data["slug"],
        order=int(data["order"]),
        status=data["status"],
        title=dict(data["title"]),
        summary=dict(data["summary"]),
        prerequisites=tuple(data["prerequisites"]),
        goals={lang: tuple(items) for lang, items in data["goals"].items()},
        files=files,
        steps=steps,
        runtime=data["runtime"],
        root=root,
        lane=lane_of(data),
        limits={k: v for k, v in limits.items() if k in SANDBOX_LIMIT_KEYS},
        file_limits=file_limits,
        needs=tuple(data.get("needs") or ()),
        gates=gates,
        facts=facts,
        deviations=deviations,
        review_rubric=review_rubric,
        review_material=str((data.get("review_material") or {}).get("test", "")),
        survey=survey_prompts(data.get("survey")),
    )


def survey_prompts(data: Mapping[str, Any] | None) -> SurveyPrompts:
    """module.yaml's ``survey`` mapping (validated by the schema) as :class:`SurveyPrompts`."""
    data = data or {}
    return SurveyPrompts(
        topic=dict(data.get("topic") or {}),
        questions={key: dict(data[key]) for key in SURVEY_DEFAULTS if data.get(key)},
    )


def _is_module_local(reference: str) -> bool:
    parts = PurePosixPath(reference).parts
    return bool(parts) and ".." not in parts and not reference.startswith("/")


def _learner_file(entry: Mapping[str, Any], step_ids: set[str], problems: list[str]) -> LearnerFile:
    path = entry["path"]
    stubs = []
    targets: set[str] = set()
    for raw in entry.get("stubs") or ():
        stub = Stub(
            step=raw["step"],
            todo=raw["todo"],
            function=raw.get("function"),
            region=raw.get("region"),
            doc=raw.get("doc"),
            stand_in=raw.get("stand_in"),
        )
        if stub.step not in step_ids:
            problems.append(f"files {path}: stub {stub.target} names unknown step {stub.step!r}")
        if stub.function is not None and not IDENTIFIER_RE.match(stub.function):
            problems.append(f"files {path}: {stub.function!r} is not a (qualified) function name")
        if stub.region is not None and not REGION_RE.match(stub.region):
            problems.append(f"files {path}: region name {stub.region!r} must be lower-case words and dashes")
        if stub.target in targets:
            problems.append(f"files {path}: {stub.target} is stubbed twice")
        targets.add(stub.target)
        stubs.append(stub)
    crate = entry.get("crate")
    return LearnerFile(
        path=path,
        reference=entry["reference"],
        stubs=tuple(stubs),
        crate=None
        if crate is None
        else Crate(root=crate["root"], module=crate["module"], build_seconds=int(crate["build_seconds"])),
    )


def discover(content_dir: Path) -> list[Path]:
    """Module folders of a course (``NN-slug`` holding a module.yaml), in name order."""
    if not content_dir.is_dir():
        return []
    folder_re = re.compile(r"^\d{2}-[a-z0-9][a-z0-9-]*$")
    return sorted(
        p
        for p in content_dir.iterdir()
        if p.is_dir() and folder_re.match(p.name) and (p / "module.yaml").is_file()
    )


def course(content_dir: Path, *, strict: bool = True) -> dict[str, ModuleSpec]:
    """Every module of a course folder by slug (each cached as :func:`load` caches it).

    ``strict``: a module that does not load raises :class:`SpecError` (the grader fails closed: it cannot cut
    the parts of a module it cannot read); otherwise it is left out (the content sync reports it on its own).
    """
    specs: dict[str, ModuleSpec] = {}
    for folder in discover(Path(content_dir)):
        try:
            spec = load(folder)
        except SpecError:
            if strict:
                raise
            continue
        specs[spec.slug] = spec
    return specs


def ancestors(slug: str, specs: Mapping[str, ModuleSpec]) -> set[str]:
    """The transitive prerequisites of ``slug`` (the modules a learner has done before it opens)."""
    found: set[str] = set()
    todo = list(specs[slug].prerequisites) if slug in specs else []
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(specs[current].prerequisites if current in specs else ())
    return found


def owners(specs: Mapping[str, ModuleSpec]) -> dict[str, list[str]]:
    """Workspace path -> the modules whose learners write (part of) that file, in course order."""
    out: dict[str, list[str]] = {}
    for spec in sorted(specs.values(), key=lambda s: (s.order, s.slug)):
        for entry in spec.files:
            out.setdefault(entry.path, []).append(spec.slug)
    return out


# --- learner files ---------------------------------------------------------------------------------------------------
def check_path(path: object) -> str:
    """A workspace path as learners may send it: a non-empty, normalised, relative POSIX path."""
    if not isinstance(path, str) or not path:
        raise SubmissionError("path_invalid", "file paths must be non-empty strings")
    if "\\" in path or "\0" in path or path.startswith("/"):
        raise SubmissionError(
            "path_invalid", "file path %(path)r must be a relative POSIX path", path=path[:100]
        )
    if ".." in PurePosixPath(path).parts or str(PurePosixPath(path)) != path:
        raise SubmissionError(
            "path_invalid", "file path %(path)r must be normalised, without '..'", path=path[:100]
        )
    return path


def text_check(path: str, content: object, limit: int) -> str:
    """One learner file's content as text: UTF-8 (bytes are decoded), no NUL byte, at most ``limit`` bytes."""
    if isinstance(content, bytes):
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise SubmissionError(
                "not_utf8", "%(path)s: content is not valid UTF-8 text", path=path
            ) from None
        size = len(content)
    elif isinstance(content, str):
        text = content
        try:
            size = len(content.encode("utf-8"))
        except UnicodeEncodeError:
            raise SubmissionError(
                "not_utf8", "%(path)s: content is not valid UTF-8 text", path=path
            ) from None
    else:
        raise SubmissionError("files_invalid", "%(path)s: file content must be text", path=path)
    if "\x00" in text:
        raise SubmissionError("binary_file", "%(path)s: binary content (NUL byte) is not accepted", path=path)
    if size > limit:
        raise SubmissionError("too_large", "%(path)s is larger than %(max)d bytes", path=path, max=limit)
    return text


def validate_files(spec: ModuleSpec, files: object) -> dict[str, str]:
    """Learner files for ``spec``: a mapping of its editable paths to text, within its file limits.

    Returns ``{path: text}`` (bytes decoded). An empty mapping is valid here (the engine then grades the
    starters); callers that need at least one file say so themselves.
    """
    if not isinstance(files, Mapping):
        raise SubmissionError("files_invalid", "files must be an object {path: text}")
    allowed = set(spec.editable_paths)
    total = 0
    out: dict[str, str] = {}
    for path, content in files.items():
        check_path(path)
        if path not in allowed:
            raise SubmissionError(
                "unknown_file",
                "%(path)s is not an editable file of this module (editable: %(allowed)s)",
                path=path[:100],
                allowed=", ".join(sorted(allowed)),
            )
        text = text_check(path, content, spec.file_limits.file_bytes)
        entry = spec.file(path)
        if entry.crate is not None:
            rust_regions_check(entry, text, entry.reference_path(spec.root).read_text(encoding="utf-8"))
        total += len(text.encode("utf-8"))
        if total > spec.file_limits.total_bytes:
            raise SubmissionError(
                "too_large", "files exceed %(max)d bytes in total", max=spec.file_limits.total_bytes
            )
        out[path] = text
    return out


# --- Rust learner files ------------------------------------------------------------------------------------------
RUST_MARKER_RE = re.compile(r"^[ \t]*// lab: (?P<kind>begin|end) (?P<name>[a-z0-9][a-z0-9-]*)[ \t]*$")
#: What a learner's Rust region may not name: macros that read files or the environment at compile time, out-of-line
#: modules (``#[path = ...] mod``), foreign crates and link-level attributes. Matched as whole identifiers anywhere in
#: the region (comments and strings included: a lexer that misreads a literal could otherwise hide one).
RUST_DENIED = re.compile(
    r"(?<![A-Za-z0-9_])(include|include_str|include_bytes|env|option_env|mod|extern|path|link|link_name|"
    r"link_section|no_mangle|export_name|global_asm|proc_macro)(?![A-Za-z0-9_])"
)


def rust_fixed_parts(reference_text: str) -> list[str]:
    """The reference's text outside its ``// lab:`` regions (markers excluded), as whole lines, in order."""
    parts, current, inside = [], [], False
    for line in reference_text.splitlines(keepends=True):
        marker = RUST_MARKER_RE.match(line.rstrip("\n"))
        if marker is None:
            if not inside:
                current.append(line)
            continue
        if marker["kind"] == "begin":
            parts.append("".join(current))
            current, inside = [], True
        else:
            inside = False
    parts.append("".join(current))
    return parts


def _split_regions(body: str, fixed: list[str]) -> list[str] | None:
    """The text between the fixed parts (each starting a line), or None if ``body`` does not hold them in order."""
    if not body.startswith(fixed[0]) or not body.endswith(fixed[-1]):
        return None
    pos, end = len(fixed[0]), len(body) - len(fixed[-1])
    regions = []
    for part in fixed[1:-1]:
        at = body.find(part, pos, end)
        while at > 0 and body[at - 1] != "\n":
            at = body.find(part, at + 1, end)
        if at < 0:
            return None
        regions.append(body[pos:at])
        pos = at + len(part)
    if pos > end:
        return None
    regions.append(body[pos:end])
    return regions


def rust_regions_check(entry: LearnerFile, text: str, reference_text: str) -> list[str]:
    """The learner's regions of a Rust file, after checking that everything else is the reference's text.

    The file must be the reference's lines outside its regions, in order, with whole lines of the learner's
    in place of each region; no region may name what :data:`RUST_DENIED` lists. Raises :class:`SubmissionError`.
    """
    body = text if text.endswith("\n") else text + "\n"
    regions = _split_regions(body, rust_fixed_parts(reference_text))
    if regions is None:
        raise SubmissionError(
            "rust_outside_regions",
            "%(path)s: only the marked regions (where the starter says unimplemented!) are yours to edit; "
            "the rest of the file must stay as given (reset it from the starter and write inside the regions)",
            path=entry.path,
        )
    for region in regions:
        denied = RUST_DENIED.search(region)
        if denied is not None:
            raise SubmissionError(
                "rust_denied",
                "%(path)s: `%(name)s` is not allowed in your code (no file, environment or module access at "
                "compile time, no link attributes): write the region with plain Rust",
                path=entry.path,
                name=denied.group(1),
            )
    return regions
