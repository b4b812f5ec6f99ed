"""``manage.py content_upstream_diff`` on the real course, and the admin's upstream dashboard.

The upstream repository is built in a temporary folder from our own ``nanochat_ref`` laid out as nanochat lays out
its files (``nanochat_ref/gpt.py`` -> ``nanochat/gpt.py``); the newer commit changes one function (``norm``) and
one file's formatting only. The report must flag module 5's step that stubs ``norm`` and nothing that does not
build on it, be saved for the admin, and show there as "1 module affected" with the diff hunk.
"""

from __future__ import annotations

import json
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from platform_helpers import Persona

from modules import spec
from modules.models import UpstreamReport

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


@pytest.fixture
def upstream_repo(tmp_path: Path) -> tuple[Path, str, str]:
    repo = tmp_path / "nanochat"
    (repo / "nanochat").mkdir(parents=True)
    git(repo, "init", "-q")
    gpt = (REPO_ROOT / "nanochat_ref" / "gpt.py").read_text(encoding="utf-8")
    engine = (REPO_ROOT / "nanochat_ref" / "engine.py").read_text(encoding="utf-8")
    (repo / "nanochat" / "gpt.py").write_text(gpt)
    (repo / "nanochat" / "engine.py").write_text(engine)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "old")
    old = git(repo, "rev-parse", "HEAD")
    changed = gpt.replace(
        "return F.rms_norm(x, (x.size(-1),))", "return F.rms_norm(x, (x.size(-1),), eps=1e-6)"
    )
    assert changed != gpt, "nanochat_ref/gpt.py's norm changed: update this fixture"
    (repo / "nanochat" / "gpt.py").write_text(changed)
    (repo / "nanochat" / "engine.py").write_text("# reformatted only\n" + engine)
    git(repo, "commit", "-q", "-am", "new")
    return repo, old, git(repo, "rev-parse", "HEAD")


def norm_step() -> str:
    gpt = spec.load(REPO_ROOT / "content" / "05-gpt")
    return next(s.step for f in gpt.files for s in f.stubs if s.function == "norm")


def test_the_command_flags_the_step_built_on_a_changed_function_and_saves_the_run(upstream_repo, tmp_path):
    repo, old, new = upstream_repo
    out, err = StringIO(), StringIO()
    json_path = tmp_path / "report.json"
    call_command(
        "content_upstream_diff", "--from", old, "--to", new, "--repo", str(repo), "--json", str(json_path),
        "--save", stdout=out, stderr=err,
    )  # fmt: skip
    report = json.loads(json_path.read_text())
    affected = {m["slug"]: [s["id"] for s in m["steps"]] for m in report["modules"] if m["affected"]}
    assert affected == {"05-gpt": [norm_step()]}
    change = report["modules"][[m["slug"] for m in report["modules"]].index("05-gpt")]["steps"][0]["changes"][
        0
    ]
    assert (change["file"], change["symbol"], change["status"]) == ("nanochat/gpt.py", "norm", "body changed")
    markdown = out.getvalue()
    assert "**1 module affected** of 16 checked." in markdown
    assert "+    return F.rms_norm(x, (x.size(-1),), eps=1e-6)" in markdown
    saved = UpstreamReport.objects.get()
    assert (saved.from_commit, saved.to_commit, saved.modules_affected) == (old, new, 1)
    assert f"saved as upstream report {saved.pk}" in err.getvalue()


def test_the_command_refuses_a_missing_repository_or_commit_with_the_reason(upstream_repo, tmp_path):
    repo, old, _ = upstream_repo
    with pytest.raises(CommandError, match="no such directory"):
        call_command("content_upstream_diff", "--to", "HEAD", "--repo", str(tmp_path / "nope"))
    with pytest.raises(CommandError, match="'v9.9' is not a commit"):
        call_command(
            "content_upstream_diff", "--from", old, "--to", "v9.9", "--repo", str(repo), stdout=StringIO()
        )
    assert not UpstreamReport.objects.exists()


def test_fail_on_change_exits_one_for_a_scheduled_sync(upstream_repo):
    repo, old, new = upstream_repo
    with pytest.raises(SystemExit) as exited:
        call_command(
            "content_upstream_diff", "--from", old, "--to", new, "--repo", str(repo), "--format", "json",
            "--fail-on-change", stdout=StringIO(),
        )  # fmt: skip
    assert exited.value.code == 1
    out = StringIO()
    call_command(
        "content_upstream_diff", "--from", old, "--to", old, "--repo", str(repo), "--format", "json",
        "--fail-on-change", stdout=out,
    )  # fmt: skip
    assert json.loads(out.getvalue())["modules_affected"] == 0


def test_authors_see_the_dashboard_and_learners_do_not(upstream_repo, learner):
    from modules.services import roles_ensure

    repo, old, new = upstream_repo
    call_command(
        "content_upstream_diff", "--from", old, "--to", new, "--repo", str(repo), "--save", stdout=StringIO()
    )
    saved = UpstreamReport.objects.get()
    roles_ensure()
    user = User.objects.create_user(username="writer", password="x" * 12, is_staff=True)
    user.groups.add(Group.objects.get(name="author"))
    author = Persona(user)
    listing = author.get("/admin/modules/upstreamreport/")
    assert listing.status_code == 200 and "1 module affected" in listing.content.decode()
    page = author.get(f"/admin/modules/upstreamreport/{saved.pk}/change/").content.decode()
    assert "05-gpt" in page and "body changed" in page and "eps=1e-6" in page
    assert "<script" not in page.split('class="upstream-report"')[1].split("</div>")[0]
    assert author.get("/admin/modules/upstreamreport/add/").status_code == 403
    assert learner.get("/admin/modules/upstreamreport/").status_code == 302
