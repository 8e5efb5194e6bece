"""The documentation holds together: citations of docs/method.md resolve, links point to files that exist.

* Every "method §N" cited in iapix/, notebooks/ (both sides of each pair), tests/, benchmarks/, README.md and docs/
  names a numbered section of docs/method.md, and every quoted heading after it (``method §7 "padding"``) is a
  heading or a bold label inside that section.
* No file of the repository cites the old, external method page (the team's spec outside the repository).
* Every relative link in README.md and docs/*.md points to a file of the repository, and a ``#anchor`` to a heading
  of that file.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
METHOD = ROOT / "docs" / "method.md"
CITING = ("iapix", "notebooks", "tests", "benchmarks", "docs")  # folders whose files cite the method
TEXT_SUFFIXES = {".py", ".md", ".ipynb", ".toml", ".yml", ".yaml", ".txt", ".cfg", ".json", ".csv", ""}
SKIP_PARTS = {".git", ".venv", "runs", "out", "checkpoints", "__pycache__", ".ipynb_checkpoints", "build"}
# written in two pieces so that this file does not match itself
OLD_SPEC = ("SPEC" + " §", "SPEC" + ".md", ".." + "/shared")

SECTION = re.compile(r"^## (\d+)\. (.+)$", re.M)
HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.M)
BOLD = re.compile(r"\*\*([^*\n]+?)\*\*")
SIGN = re.compile(r"§ ?(\d+)(?:\s*[-–]\s*§?(\d+))?")
QUOTED = re.compile(r'§ ?(\d+)[,:]?\s*(?:\(\s*)?((?:["“][^"”]{1,80}["”](?:\s*(?:,|and)\s*(?=["“]))?)+)')  # §7 "a", "b"
LINK = re.compile(r"(?<!\\)\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def repo_files() -> list[Path]:
    """The files of the repository: git's list (tracked and untracked, not ignored), else a walk."""
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.splitlines()
        files = [ROOT / f for f in out]
    except (OSError, subprocess.CalledProcessError):
        files = [p for p in ROOT.rglob("*") if p.is_file()]
    return sorted(p for p in files if p.is_file() and not SKIP_PARTS & set(p.relative_to(ROOT).parts))


def text_of(path: Path) -> str:
    """What a reader sees: a notebook's cell sources, a .py or .md file as it is; comment marks and line breaks
    become single spaces, so that a citation broken over two lines is read as one."""
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        raw = "\n".join("".join(c.get("source", "")) for c in json.loads(raw).get("cells", []))
    return re.sub(r"\s*\n\s*(?:#(?!#)\s?)?\s*", " ", raw)


def citing_files() -> list[Path]:
    keep = []
    for p in repo_files():
        rel = p.relative_to(ROOT)
        if p == Path(__file__).resolve():  # this file's examples of bad citations are tested below, not scanned
            continue
        if (rel.parts[0] in CITING or rel.name == "README.md") and p.suffix in (".py", ".md", ".ipynb"):
            keep.append(p)
    return keep


def method_sections(text: str) -> dict[int, str]:
    """``{N: the text of section N}`` of docs/method.md (from its ``## N. Title`` to the next one)."""
    marks = list(SECTION.finditer(text))
    return {int(m.group(1)): text[m.start():marks[i + 1].start() if i + 1 < len(marks) else len(text)]
            for i, m in enumerate(marks)}


def labels(section: str) -> set[str]:
    """The headings and bold labels of a section, lower case, without a trailing colon or full stop."""
    found = [m.group(1) for m in HEADING.finditer(section)] + [m.group(1) for m in BOLD.finditer(section)]
    return {re.sub(r"^\d+\.\s*", "", f).strip().rstrip(".:").lower() for f in found}


def citation_problems(text: str, sections: dict[int, str], where: str, self_cites: bool = False) -> list[str]:
    """Everything wrong with the method citations in ``text`` (already flattened by :func:`text_of`).

    ``self_cites``: ``text`` is docs/method.md, whose own cross-references are a bare ``§N``. Elsewhere every
    ``§N`` must belong to a citation that says which document it means: ``method §N`` (or a list or range that
    starts with one, ``method §3, §7``, ``method §3-4``)."""
    problems = []
    for m in SIGN.finditer(text):
        for n in filter(None, m.groups()):
            if int(n) not in sections:
                context = text[max(0, m.start() - 30):m.end() + 10]
                problems.append(f"{where}: cites §{n}, which docs/method.md does not have ({context!r})")
        if not self_cites:
            before = text[max(0, m.start() - 60):m.start()]
            if not re.search(r"method\s*$|method §[^§]*$", before, re.I):
                context = text[max(0, m.start() - 40):m.end() + 10]
                problems.append(f"{where}: a bare §{m.group(1)} (write `method §{m.group(1)}`): {context!r}")
    for m in QUOTED.finditer(text):
        n = int(m.group(1))
        for quoted in re.findall(r'["“]([^"”]+)["”]', m.group(2)):
            if n in sections and quoted.strip().rstrip(".:").lower() not in labels(sections[n]):
                problems.append(f'{where}: cites §{n} "{quoted}", which is not a heading or bold label of '
                                f"docs/method.md §{n} (its headings: {sorted(labels(sections[n]))})")
    return problems


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {slug(m.group(1)) for m in HEADING.finditer(text)}


def link_problems(path: Path) -> list[str]:
    problems = []
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    for m in LINK.finditer(text):
        target = m.group(1)
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        rel = f"{path.relative_to(ROOT)}: link {target!r}"
        if ROOT not in dest.parents and dest != ROOT:
            problems.append(f"{rel} leaves the repository")
        elif not dest.exists():
            problems.append(f"{rel} points to a file that does not exist")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{rel}: {dest.name} has no heading with the anchor #{anchor}")
    return problems


# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sections() -> dict[int, str]:
    assert METHOD.is_file(), "docs/method.md is missing: the code and the notebooks cite it"
    return method_sections(METHOD.read_text(encoding="utf-8"))


def test_method_has_sections_1_to_7(sections):
    assert sorted(sections) == list(range(1, 8)), sorted(sections)


def test_every_method_citation_resolves(sections):
    problems, cited = [], 0
    for path in citing_files():
        text = text_of(path)
        cited += len(SIGN.findall(text))
        problems += citation_problems(text, sections, str(path.relative_to(ROOT)), self_cites=path == METHOD)
    assert cited > 50, f"only {cited} citations of docs/method.md found: is the scan looking in the right places?"
    assert not problems, "\n".join(problems)


def test_nothing_cites_the_old_external_spec():
    hits = []
    for path in repo_files():
        if path.suffix not in TEXT_SUFFIXES and path.name not in ("Makefile",):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        hits += [f"{path.relative_to(ROOT)}: {old!r}" for old in OLD_SPEC if old in text]
    assert not hits, "cite docs/method.md (method §N) instead:\n" + "\n".join(hits)


@pytest.mark.parametrize("name", ["README.md"] + sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")))
def test_relative_links_point_to_files(name):
    problems = link_problems(ROOT / name)
    assert not problems, "\n".join(problems)


def test_the_checks_catch_a_dangling_citation(sections):
    """The checker itself: a citation of a missing section or heading, and a bare §N, are each reported."""
    assert citation_problems('see method §3 and method §7 "padding" and method §3-4', sections, "x") == []
    assert citation_problems("see method §9", sections, "x")
    assert citation_problems('see method §7 "no such heading"', sections, "x")
    assert citation_problems('see method §7 "padding", "no such heading"', sections, "x")
    assert citation_problems("see §3", sections, "x")
    assert citation_problems("method §3-9", sections, "x")
