"""The dependency rule: the edges (ui/: web chat, command line) → qa/ → index/. index/ imports
neither qa/ nor ui/; qa/ never imports ui/; the answering modules never import the evaluation."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported(path: Path) -> set[str]:
    """Top-level names of the packages a module imports (relative imports resolved)."""
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names.add(".".join(base + ((node.module,) if node.module else ())))
            else:
                names.add(node.module)
    return names


def modules(package: str):
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package, forbidden", [("index", ("qa", "ui")), ("qa", ("ui",))])
def test_imports_flow_one_way(package, forbidden):
    bad = {f"{m.relative_to(ROOT)} imports {name}" for m in modules(package) for name in imported(m)
           if name.split(".")[0] in forbidden}
    assert not bad


def test_answering_does_not_import_the_evaluation():
    bad = {f"{m.relative_to(ROOT)} imports {name}" for m in modules("qa") if "eval" not in m.parts
           for name in imported(m) if name.startswith("qa.eval")}
    assert not bad


def test_the_rule_is_checked_on_real_imports():
    """The checker sees relative and absolute imports (so the rule above cannot pass vacuously)."""
    assert "qa.settings" in imported(ROOT / "qa" / "assistant.py")
    assert "index" in imported(ROOT / "qa" / "assistant.py")
    assert "qa.eval.metrics" in imported(ROOT / "qa" / "eval" / "runs.py")
    assert "qa.catalogue" in imported(ROOT / "ui" / "app.py") and "qa.answer" in imported(ROOT / "qa" / "eval" / "runs.py")
