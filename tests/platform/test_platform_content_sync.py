"""content/ -> Module rows: idempotent, versioned by content hash, invalid folders reported, gone ones retired."""

import shutil

import pytest
from django.core.management import call_command
from platform_helpers import FIXTURE_CONTENT

from modules.content import ContentError, load_module
from modules.models import Module
from modules.services import content_sync

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def starters_dir(tmp_path, settings):
    settings.LAB_STARTERS_DIR = tmp_path / "starters"
    return settings.LAB_STARTERS_DIR


@pytest.fixture
def content(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, target)
    return target


def sync(content, capsys):
    call_command("sync_content", "--content-dir", str(content))
    return capsys.readouterr()


def test_it_creates_modules_then_reports_them_unchanged(content, capsys):
    assert "created: 2, updated: 0, unchanged: 0" in sync(content, capsys).out
    assert "created: 0, updated: 0, unchanged: 2" in sync(content, capsys).out
    assert list(Module.objects.values_list("slug", flat=True)) == ["01-hello", "02-next"]


def test_it_updates_a_module_whose_content_changed(content, capsys):
    sync(content, capsys)
    before = Module.objects.get(slug="01-hello").content_hash
    (content / "01-hello" / "guide.en.md").write_text("# Hello again\n", encoding="utf-8")
    assert "updated: 1, unchanged: 1" in sync(content, capsys).out
    module = Module.objects.get(slug="01-hello")
    assert module.content_hash != before
    assert module.payload["guides"]["en"] == "# Hello again\n"


def test_it_changes_the_hash_when_a_test_file_changes(content, capsys):
    sync(content, capsys)
    before = Module.objects.get(slug="01-hello").content_hash
    (content / "01-hello" / "tests" / "hidden" / "test_hello_hidden.py").write_text("# changed\n")
    sync(content, capsys)
    assert Module.objects.get(slug="01-hello").content_hash != before


def test_it_retires_a_module_whose_folder_disappeared(content, capsys):
    sync(content, capsys)
    shutil.rmtree(content / "02-next")
    assert "retired: 1" in sync(content, capsys).out
    assert Module.objects.get(slug="02-next").status == "retired"


def test_it_reports_an_invalid_module_and_keeps_the_others(content, capsys):
    (content / "02-next" / "module.yaml").write_text("slug: 02-next\norder: x\n", encoding="utf-8")
    output = sync(content, capsys)
    assert "invalid: 1" in output.out
    assert "invalid 02-next" in output.err
    assert list(Module.objects.values_list("slug", flat=True)) == ["01-hello"]


def test_it_fails_on_invalid_content_when_strict(content):
    (content / "02-next" / "module.yaml").write_text("slug: wrong\n", encoding="utf-8")
    with pytest.raises(Exception, match="invalid module folder"):
        call_command("sync_content", "--content-dir", str(content), "--strict")


def test_it_rejects_a_slug_that_differs_from_the_folder(content, repo_root):
    text = (content / "01-hello" / "module.yaml").read_text().replace("slug: 01-hello", "slug: 01-other")
    (content / "01-hello" / "module.yaml").write_text(text)
    with pytest.raises(ContentError, match="differs from the folder name"):
        load_module(content / "01-hello", repo_root=repo_root)


def test_it_rejects_a_file_path_that_escapes_the_workspace(content, repo_root):
    text = (content / "01-hello" / "module.yaml").read_text().replace("path: hello.py", "path: ../hello.py")
    (content / "01-hello" / "module.yaml").write_text(text)
    with pytest.raises(ContentError, match="files"):
        load_module(content / "01-hello", repo_root=repo_root)


def test_it_rejects_a_hint_for_an_unknown_step(content, repo_root):
    path = content / "01-hello" / "hints.yaml"
    path.write_text(path.read_text().replace("step: step1, level: 1", "step: step9, level: 1"))
    with pytest.raises(ContentError, match="unknown step"):
        load_module(content / "01-hello", repo_root=repo_root)


def test_it_loads_the_onboarding_module_of_the_real_course(repo_root):
    from django.conf import settings

    from modules.figures import figures_ensure

    figures = figures_ensure(root=settings.LAB_FIGURES_DIR, repo_root=repo_root)
    module = load_module(repo_root / "content" / "01-onboarding", repo_root=repo_root, figures=figures)
    assert module.slug == "01-onboarding"
    assert "01-onboarding/params-by-depth" in module.payload["figures"]
    assert "hello.py" in module.payload["starters"]
    assert "hello.py" in module.payload["references"]


def test_the_real_course_syncs_without_invalid_modules(repo_root):
    report = content_sync(content_dir=repo_root / "content", repo_root=repo_root)
    assert report.errors == {}
    assert "01-onboarding" in report.created


def test_it_serves_and_writes_starters_generated_from_the_reference(content, capsys, starters_dir):
    sync(content, capsys)
    starter = Module.objects.get(slug="01-hello").payload["starters"]["hello.py"]
    assert starter == 'def greet(name):\n    raise NotImplementedError("TODO(step 1): return the greeting")\n'
    assert (starters_dir / "01-hello" / "hello.py").read_text(encoding="utf-8") == starter
    assert (starters_dir / "02-next" / "nanochat" / "next.py").is_file()


def test_two_syncs_write_byte_identical_starters(content, capsys, starters_dir):
    sync(content, capsys)
    first = {p: p.read_bytes() for p in starters_dir.rglob("*") if p.is_file()}
    sync(content, capsys)
    assert {p: p.read_bytes() for p in starters_dir.rglob("*") if p.is_file()} == first and len(first) == 2


def test_a_reference_change_reaches_the_starter_at_the_next_sync(content, capsys):
    sync(content, capsys)
    before = Module.objects.get(slug="01-hello")
    (content / "01-hello" / "reference" / "hello.py").write_text(
        'import string\n\n\ndef greet(name):\n    return f"Hello, {string.capwords(name)}!"\n'
    )
    assert "updated: 1" in sync(content, capsys).out
    after = Module.objects.get(slug="01-hello")
    assert after.content_hash != before.content_hash
    assert after.payload["starters"]["hello.py"].startswith("import string\n")


def test_a_stub_the_reference_no_longer_has_makes_the_module_invalid_and_keeps_its_row(content, capsys):
    sync(content, capsys)
    (content / "01-hello" / "reference" / "hello.py").write_text("def hello(name):\n    return name\n")
    output = sync(content, capsys)
    assert "invalid: 1" in output.out and "greet: no such function" in output.err
    assert Module.objects.get(slug="01-hello").payload["starters"]["hello.py"].startswith("def greet")
