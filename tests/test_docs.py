"""The project's own documents match the code: the generated rule catalogue, and the output contract's columns,
states and exit codes."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from auditor import cli, engine
from auditor.rule import SEVERITIES, STATES
from auditor.ruledoc import rules_markdown
from auditor.rules import ALL

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_rules_md_is_the_generators_output():
    assert (DOCS / "rules.md").read_text(encoding="utf-8") == rules_markdown(ALL), \
        "docs/rules.md is stale: regenerate it with 'python -m auditor rules --format markdown > docs/rules.md'"


def test_rules_markdown_through_the_cli_lists_every_rule():
    out = subprocess.run([sys.executable, "-m", "auditor", "rules", "--format", "markdown"], capture_output=True,
                         text=True, check=True).stdout
    assert out == rules_markdown(ALL)
    assert [m for m in re.findall(r"^### (\S+)$", out, re.M)] == [r.id for r in ALL]


def test_output_contract_names_every_column_state_severity_and_exit_code():
    text = (DOCS / "output-contract.md").read_text(encoding="utf-8")
    columns = re.findall(r"^\| `([a-z_]+)` \|", text.split("## Finding rows", 1)[1], re.M)
    base = [c for c in engine.COLUMNS if c not in engine.FRAMEWORK_COLUMNS]
    assert columns == [*base, "change", *engine.FRAMEWORK_COLUMNS]   # change sits before the framework columns
    for word in (*STATES, *SEVERITIES):
        assert f"`{word}`" in text, word
    codes = dict(re.findall(r"^\| (\d) \| (.+) \|$", text, re.M))
    assert sorted(int(c) for c in codes) == sorted({cli.EXIT_OK, cli.EXIT_FINDINGS, cli.EXIT_USAGE, cli.EXIT_INCOMPLETE})


def test_no_source_file_cites_a_document_the_project_does_not_have():
    root = DOCS.parent
    cited = re.compile(r"\b(RULES|CONTRACT|CLARIFICATIONS|STYLE)\.md\b|\.\./shared|shared/seed")
    offenders = [str(p.relative_to(root)) for p in [*root.glob("auditor/**/*.py"), *root.glob("rules/*.py"),
                                                    *root.glob("reports/**/*.py"), *root.glob("docs/*.md"),
                                                    root / "README.md"]
                 if cited.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_every_package_of_the_tree_is_installed():
    """pyproject lists its packages explicitly (rules/ and reports/ map into auditor): a new package left out of the
    list would be missing from the wheel."""
    import tomllib
    root = DOCS.parent
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(root).parts) for p in (root / "auditor").rglob("__init__.py")}
    found |= {"auditor.rules", "auditor.reports"}
    assert found - listed == set()
