"""Code comments and error messages cite only what a user of the package can open: the paper's
sections, public URLs and the project's own docs/ pages, never documents outside the repository."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["oneshot_ros", "test", "bench", "launch", "config"]
OUTSIDE = re.compile(r"\.\./shared|reference/|(paper|fetch_arm_kinematics|pybullet_world|"
                     r"ros2_interfaces)\.md")
DOCS = re.compile(r"docs/[\w.-]+\.md")


def _sources():
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in (".py", ".yaml", ".txt") and path != Path(__file__).resolve():
                yield path, path.read_text(errors="replace")


def test_no_citation_of_documents_outside_the_repository():
    cited = [f"{path.relative_to(ROOT)}:{text[:m.start()].count(chr(10)) + 1}: {m.group()}"
             for path, text in _sources() for m in OUTSIDE.finditer(text)]
    assert not cited, "\n".join(cited)


def test_cited_docs_pages_exist():
    missing = sorted({m.group() for _, text in _sources() for m in DOCS.finditer(text)
                      if not (ROOT / m.group()).is_file()})
    assert not missing, missing
