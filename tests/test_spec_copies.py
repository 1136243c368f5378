"""The repository owns copies of the specifications and of the real Salesforce sample.

docs/METRICS.md, docs/DATA_CONTRACT.md and docs/CRM_FORMATS.md are the definitions of record that the code
follows; tests/fixtures/salesforce-data-cloud-workshop/ is the real export the importer tests read. Where
../shared exists (beside CI and the team's checkouts), the copies must be byte-identical to it, so a change of
the specification shows up here until the copy (and the code) follow. A user's clone has no ../shared: then
only that comparison is skipped, and everything else runs on the copies.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, SHARED

SPECS = ("METRICS.md", "DATA_CONTRACT.md", "CRM_FORMATS.md")
SAMPLE = "salesforce-data-cloud-workshop"
DOCS = REPO_ROOT / "docs"
FIXTURE = REPO_ROOT / "tests" / "fixtures" / SAMPLE


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("name", SPECS)
def test_the_repository_carries_the_specification(name):
    text = (DOCS / name).read_text(encoding="utf-8")
    assert text.startswith("# "), f"docs/{name} is not the specification"
    assert "../shared" not in text


def test_the_repository_carries_the_sample_with_its_licence():
    files = _files(FIXTURE)
    assert {"Account.csv", "Contact.csv", "Opportunity.csv", "Task.csv", "Case.csv"} <= set(files)
    assert b"BSD" in files["LICENSE.txt"] or b"Redistribution" in files["LICENSE.txt"]
    assert b"github.com/SFDC-Assets/data-cloud-workshop" in files["SOURCE.txt"]


def test_no_module_or_test_reads_shared():
    """Nothing in the product or its tests reads ../shared, except this comparison."""
    offenders = []
    for folder in ("kam_metrics", "tests", "benchmarks", "pages", "scripts"):
        for path in (REPO_ROOT / folder).rglob("*"):
            if path.suffix not in {".py", ".sh"} or path.name in {"test_spec_copies.py", "conftest.py"}:
                continue
            if '"shared"' in path.read_text(encoding="utf-8") or "../shared" in path.read_text(encoding="utf-8"):
                offenders.append(str(path.relative_to(REPO_ROOT)))
    assert offenders == []


needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared beside this clone: nothing to compare")


@needs_shared
@pytest.mark.parametrize("name", SPECS)
def test_spec_copy_is_in_step_with_shared(name):
    assert (DOCS / name).read_bytes() == (SHARED / name).read_bytes(), (
        f"docs/{name} differs from ../shared/{name}: copy the new version and bring the code in step")


@needs_shared
def test_sample_copy_is_in_step_with_shared():
    assert _files(FIXTURE) == _files(SHARED / "samples" / SAMPLE)
