"""The package's layers point one way and its packages form no cycle, read from the source with
ast (like test_package's rclpy check): every project import (top-level or inside a function)
runs down the layers, never up.

    commands / cli -> nodes / train / evaluate / particle -> demos -> policy / sim
                   -> data -> world -> utils / config / errors

`world` holds the rules shared by the simulator and the real arm (robot layout, tasks,
kinematics, world settings, start layout, success check, actions -> joint commands); `data`
the Episode record and its storage; `demos` everything that produces episodes (demonstrator,
the episode loop, rollouts, collection, replay, recording). `utils` (worker pool, MP4/GIF
writer), `config` and `errors` sit at the bottom so every layer may use them.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "oneshot_ros"

# Package (or top-level module) -> layer, top = highest. The longest matching name decides.
LAYERS = {
    "oneshot_ros.cli": 7, "oneshot_ros.commands": 7,
    "oneshot_ros.nodes": 6, "oneshot_ros.train": 6, "oneshot_ros.evaluate": 6,
    "oneshot_ros.particle": 6,
    "oneshot_ros.demos": 5,
    "oneshot_ros.policy": 4, "oneshot_ros.sim": 4,
    "oneshot_ros.data": 3,
    "oneshot_ros.world": 2,
    "oneshot_ros": 1, "oneshot_ros.utils": 1, "oneshot_ros.config": 1, "oneshot_ros.errors": 1,
}
# A newcomer reads the top level first: a few entry modules beside the packages.
MAX_TOP_LEVEL_MODULES = 6
# Packages of one layer that stay apart: training never imports evaluation, nor the reverse.
APART = ("oneshot_ros.nodes", "oneshot_ros.train", "oneshot_ros.evaluate", "oneshot_ros.particle")
# (importer, imported) pairs exempt from APART; none today.
SIDEWAYS_ALLOWED: set[tuple[str, str]] = set()
# Project imports inside functions, each for a reason other than hiding an edge.
LAZY_ALLOWED = {
    "oneshot_ros.commands": "the CLI imports every command module to build --help: fast start",
    "oneshot_ros.demos.collect": "PyBullet and Pinocchio load when the first episode runs",
    "oneshot_ros.demos.recording": "h5py only once a file is written",
    "oneshot_ros.nodes.imitator": "torch and h5py load with the first policy",
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _owner(name: str, table) -> str | None:
    """The longest key of `table` that is `name` or a dotted prefix of it."""
    keys = [k for k in table if name == k or name.startswith(k + ".")]
    return max(keys, key=len) if keys else None


def _module_of(name: str) -> str:
    """An imported name (module, or module.attribute) -> the module that defines it."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _imports(module: str) -> list[tuple[str, bool]]:
    """(imported project module, inside a function?) for every import statement."""
    tree = ast.parse(MODULES[module].read_text())
    top = {id(node) for node in tree.body}
    package = module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [(_module_of(n), id(node) not in top) for n in names
                  if n == "oneshot_ros" or n.startswith("oneshot_ros.")]
    return found


def _package(module: str) -> str:
    """oneshot_ros.world.tasks -> oneshot_ros.world; a top-level module is its own package."""
    return ".".join(module.split(".")[:2])


def test_every_package_has_a_layer():
    missing = sorted({_package(m) for m in MODULES if m != "oneshot_ros"} - set(LAYERS))
    assert not missing, f"add these packages to LAYERS in {__file__}: {missing}"


def test_the_top_level_stays_small():
    top = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert len(top) <= MAX_TOP_LEVEL_MODULES, f"group these into packages: {top}"


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of `graph` as a path of names, or [] when there is none (depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def _graph(of=lambda module: module, top_level_only=False) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        for target, lazy in _imports(module):
            if of(target) != of(module) and not (top_level_only and lazy):
                graph.setdefault(of(module), set()).add(of(target))
    return graph


def test_packages_form_no_cycle():
    cycle = _cycle(_graph(_package))
    assert not cycle, "packages import each other in a cycle: " + " -> ".join(cycle)


def test_modules_form_no_import_cycle():
    cycle = _cycle(_graph(top_level_only=True))
    assert not cycle, "modules import each other at load time in a cycle: " + " -> ".join(cycle)


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_imports_point_down_the_layers():
    wrong = set()
    for module in sorted(MODULES):
        for target, _ in _imports(module):
            here, there = LAYERS[_owner(module, LAYERS)], LAYERS[_owner(target, LAYERS)]
            if there > here:
                wrong.add(f"{module} (layer {here}) imports {target} (layer {there})")
            apart = _owner(module, dict.fromkeys(APART)), _owner(target, dict.fromkeys(APART))
            if (None not in apart and apart[0] != apart[1]
                    and (module, target) not in SIDEWAYS_ALLOWED):
                wrong.add(f"{module} imports {target}: {apart[0]} and {apart[1]} stay apart")
    assert not wrong, "imports running up the layers:\n" + "\n".join(sorted(wrong))


def test_no_project_import_hides_inside_a_function():
    hidden = [f"{module} imports {target} inside a function"
              for module in sorted(MODULES) if _owner(module, LAZY_ALLOWED) is None
              for target, lazy in _imports(module) if lazy]
    assert not hidden, "move these to the top of the module:\n" + "\n".join(hidden)


def test_the_checks_see_a_wrong_import(tmp_path):
    """The parser finds imports in both forms and inside functions."""
    module = "oneshot_ros.data.storage"
    source = MODULES[module].read_text()
    try:
        MODULES[module] = tmp_path / "storage.py"
        MODULES[module].write_text(source + "\n\ndef f():\n"
                                   "    from oneshot_ros.demos import rollout\n"
                                   "    import oneshot_ros.sim.env\n")
        assert {("oneshot_ros.demos.rollout", True), ("oneshot_ros.sim.env", True)} \
            <= set(_imports(module))
    finally:
        MODULES[module] = PACKAGE / "data" / "storage.py"
