"""The structure the design promises, checked from the source: no import circle among the
project's modules, a learner/ that imports no Django, Celery or labeling code (in a fresh
interpreter), imports inside function bodies only for heavy third-party libraries (each with its
reason on the line), modules of at most 400 lines, and the layering of the loop's packages."""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("labeling", "learner", "config")
# Heavy libraries a function may import on first use (startup time and memory of web processes):
# each such import carries its reason in a comment on the same line.
LAZY_ALLOWED = {"torch", "sentence_transformers", "onnxruntime", "onnx", "matplotlib", "setfit", "transformers",
                "cleanlab", "datasets", "sklearn", "scipy", "datasketch"}
MAX_LINES = 400
# Package layering of the loop: a package may import only packages to its left.
LAYERS = ["learner", "labeling.modeling", "labeling.waves", "labeling.loop"]


def project_modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """Project modules a file imports (every import, function bodies included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    graph = {name: imported_modules(path, name, known) for name, path in modules.items()}
    # A package importing its own submodules (its public face) is not a circle of design.
    return {name: {t for t in targets if not t.startswith(name + ".")} for name, targets in graph.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = import_graph()
    graph["learner.text"] = graph["learner.text"] | {"labeling.waves.pool"}
    cycle = find_cycle(graph)
    assert cycle and cycle[0] == cycle[-1] and "learner.text" in cycle


def test_no_import_circle_among_the_projects_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_loop_packages_import_only_downwards():
    graph = import_graph()
    wrong = []
    for module, targets in graph.items():
        mine = max((i for i, layer in enumerate(LAYERS) if module == layer or module.startswith(layer + ".")),
                   default=None)
        if mine is None:
            continue
        for target in targets:
            for i, layer in enumerate(LAYERS):
                if i > mine and (target == layer or target.startswith(layer + ".")):
                    wrong.append(f"{module} imports {target}")
    assert not wrong, wrong


def test_every_learner_module_imports_without_django_celery_or_labeling():
    names = sorted(n for n in project_modules() if n == "learner" or n.startswith("learner."))
    assert len(names) > 25
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'celery', 'labeling', 'config',"
        " 'rest_framework'))\n"
        "print(','.join(bad) or 'clean')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "clean"


def function_body_imports() -> list[tuple[str, int, str, str]]:
    """(file, line, imported module, the line's text, function) of imports inside functions."""
    out = []
    for path in project_modules().values():
        lines = path.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.Import):
                    mods = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    mods = [node.module or ""]
                elif isinstance(node, ast.ImportFrom):
                    mods = ["." + (node.module or "")]
                else:
                    continue
                for mod in mods:
                    out.append((str(path.relative_to(ROOT)), node.lineno, mod, lines[node.lineno - 1],
                                func.name))
    return out


def test_function_body_imports_are_only_heavy_libraries_with_a_reason():
    wrong = []
    for path, line, module, text, function in function_body_imports():
        if function == "ready" and path.endswith("apps.py"):
            continue  # Django's rule: an app connects its signals once the registry is ready
        if module.split(".")[0] not in LAZY_ALLOWED or "#" not in text:
            wrong.append(f"{path}:{line}: {text.strip()}")
    assert not wrong, "imports inside functions:\n" + "\n".join(wrong)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_over_400_lines(package):
    long = {str(p.relative_to(ROOT)): n for name, p in project_modules().items() if name.startswith(package)
            for n in [len(p.read_text(encoding="utf-8").splitlines())] if n > MAX_LINES}
    assert not long, long
