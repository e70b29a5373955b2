"""The package's layers point one way: every project import (top-level or inside a function)
runs down the layers, never up, read from the source with ast (like test_package's rclpy check).

    commands -> nodes / train / evaluate -> demonstrator / episodes -> policy / sim
             -> control (world rules shared by sim and the real arm) -> data
             -> tasks / robot / world config / video writer

Control sits below the simulator because StackingEnv executes every action through it (one
action -> joint command path for sim and real arm); the success check and the start layout sit
with it because the real arm judges and clamps with them too. WorldConfig (the world's settings,
a plain dataclass on top of robot) and the MP4/GIF writer (used by evaluation, the commands and
the sim driver's ~/save_video; imageio loads inside it) sit in the bottom layer, so every layer
may use them.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "oneshot_ros"

# Module (or package) -> layer, top = highest. The longest matching name decides.
LAYERS = {
    "oneshot_ros.cli": 7, "oneshot_ros.commands": 7,
    "oneshot_ros.nodes": 6, "oneshot_ros.train": 6, "oneshot_ros.evaluate": 6,
    "oneshot_ros.particle": 6,
    "oneshot_ros.demonstrator": 5, "oneshot_ros.episode_loop": 5, "oneshot_ros.rollout": 5,
    "oneshot_ros.collect": 5, "oneshot_ros.replay": 5, "oneshot_ros.recording": 5,
    "oneshot_ros.human_style": 5,
    "oneshot_ros.policy": 4, "oneshot_ros.sim": 4,
    "oneshot_ros.control": 3, "oneshot_ros.success": 3, "oneshot_ros.layout": 3,
    "oneshot_ros.data": 2,
    "oneshot_ros": 1, "oneshot_ros.episode": 1, "oneshot_ros.tasks": 1, "oneshot_ros.robot": 1,
    "oneshot_ros.kinematics": 1, "oneshot_ros.errors": 1, "oneshot_ros.config": 1,
    "oneshot_ros.pool": 1, "oneshot_ros.trajectory": 1, "oneshot_ros.world_config": 1,
    "oneshot_ros.video": 1,
}
# Packages of one layer that stay apart: training never imports evaluation, nor the reverse.
APART = ("oneshot_ros.nodes", "oneshot_ros.train", "oneshot_ros.evaluate", "oneshot_ros.particle")
# (importer, imported) pairs exempt from APART; none today.
SIDEWAYS_ALLOWED: set[tuple[str, str]] = set()
# Project imports inside functions, each for a reason other than hiding an edge.
LAZY_ALLOWED = {
    "oneshot_ros.commands": "the CLI imports every command module to build --help: fast start",
    "oneshot_ros.collect": "PyBullet and Pinocchio load when the first episode runs",
    "oneshot_ros.recording": "h5py only once a file is written",
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


def test_every_module_has_a_layer():
    missing = sorted(m for m in MODULES if _owner(m, LAYERS) in (None, "oneshot_ros")
                     and m != "oneshot_ros")
    assert not missing, f"add these modules to LAYERS in {__file__}: {missing}"


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
        MODULES[module].write_text(source + "\n\ndef f():\n    from oneshot_ros import rollout\n"
                                   "    import oneshot_ros.sim.env\n")
        assert {("oneshot_ros.rollout", True), ("oneshot_ros.sim.env", True)} \
            <= set(_imports(module))
    finally:
        MODULES[module] = PACKAGE / "data" / "storage.py"
