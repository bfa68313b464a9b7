"""The architecture's import direction and time/patching rules, checked on the source."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STDLIB = set(sys.stdlib_module_names)
CORE_THIRD_PARTY = {"attrs", "sortedcontainers"}

# Rank of each library layer: a module may import only its own rank or lower.
RANKS = {
    "connectivity.errors": 0,
    "connectivity.config": 0,
    "connectivity.cli": 0,
    "connectivity.core": 0,
    "connectivity.runtime": 1,
    "connectivity.transport": 1,
    "connectivity.connector": 2,
    "exchanges": 3,
}
# Free to import anything from the library (they are not imported by it).
UNRANKED = ("connectivity.sim", "connectivity.testing")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in ("connectivity", "exchanges"):
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _rank(module: str) -> int | None:
    if module == "connectivity":
        return 2  # the public surface re-exports from every library layer
    for prefix, rank in RANKS.items():
        if module == prefix or module.startswith(prefix + "."):
            return rank
    return None


def _is_sim(module: str) -> bool:
    # connectivity.sim / connectivity.testing, and a venue's simulator module or package
    return module.startswith(UNRANKED) or module.endswith(".sim") or ".sim." in module


def test_every_import_follows_the_layer_direction() -> None:
    wrong = []
    for module, path in _modules().items():
        if _is_sim(module):
            continue
        own = _rank(module)
        assert own is not None, f"{module} is in no layer of ARCHITECTURE.md"
        for name in _imports(path):
            if _is_sim(name) and name.split(".")[0] in ("connectivity", "exchanges"):
                wrong.append(f"{module} imports the simulator {name}")
                continue
            target = _rank(name)
            if target is not None and target > own:
                wrong.append(f"{module} (layer {own}) imports {name} (layer {target})")
    assert not wrong, "\n".join(wrong)


def test_core_imports_only_stdlib_and_pure_helpers() -> None:
    wrong = []
    for module, path in _modules().items():
        if not (module.startswith("connectivity.core") or RANKS.get(module) == 0):
            continue
        for name in _imports(path):
            top = name.split(".")[0]
            if top in STDLIB or top in CORE_THIRD_PARTY or top == "__future__":
                continue
            if name.startswith(("connectivity.core", "connectivity.errors", "connectivity.config")):
                continue
            wrong.append(f"{module} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_connectivity_never_imports_a_venue_and_venues_never_import_each_other() -> None:
    wrong = []
    for module, path in _modules().items():
        for name in _imports(path):
            if module.startswith("connectivity") and name.startswith("exchanges"):
                wrong.append(f"{module} imports {name}")
            if module.startswith("exchanges.") and name.startswith("exchanges."):
                own_venue = module.split(".")[1]
                if name.split(".")[1] != own_venue:
                    wrong.append(f"{module} imports another venue: {name}")
    assert not wrong, "\n".join(wrong)


FORBIDDEN_CALLS = ("time.time(", "time.monotonic(", "time.perf_counter(", "patch_all(")


def test_time_and_patching_only_at_their_seams() -> None:
    allowed = {"connectivity.core.clock", "connectivity.runtime"}
    wrong = []
    for module, path in _modules().items():
        if module in allowed:
            continue
        text = path.read_text()
        for call in FORBIDDEN_CALLS:
            if call in text:
                wrong.append(f"{module} calls {call.rstrip('(')}")
    assert not wrong, "\n".join(wrong)
