"""Block-stacking tasks: "ab cd" ⇄ Task, stage counts, build order.

A task is a string of towers separated by spaces, each written TOP block first: "ab cd" = A on B,
C on D; "abc" = A on B on C; a lone letter is a block left on the table. A task uses the first n
letters a..j (2 <= n <= 10), each exactly once. stages = blocks − towers.

The order of the towers in the string is the build order (towers left to right, each bottom-up),
which is what a demonstration shows and the final-state baseline cannot see (our choice, see
docs/design.md, Tasks).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise
from pathlib import Path

from oneshot_ros.errors import InputError
from oneshot_ros.world.robot import BLOCK_LETTERS, MAX_BLOCKS, MIN_BLOCKS

TABLE = None  # support of a tower's bottom block


class TaskError(InputError):
    """A malformed task string; the message names the problem and the fix."""


@dataclass(frozen=True)
class Task:
    towers: tuple[str, ...]  # each top block first, in build order

    @property
    def string(self) -> str:
        return " ".join(self.towers)

    @property
    def n_blocks(self) -> int:
        return sum(len(t) for t in self.towers)

    @property
    def n_stages(self) -> int:
        return self.n_blocks - len(self.towers)

    @property
    def blocks(self) -> str:
        """Block letters in task-letter (observation) order."""
        return BLOCK_LETTERS[: self.n_blocks]

    def index(self, letter: str) -> int:
        return BLOCK_LETTERS.index(letter)

    @cached_property  # read every control step by the success check and the demonstrator
    def placements(self) -> tuple[tuple[int, int], ...]:
        """The stages in build order: (block index, support block index)."""
        order = []
        for tower in self.towers:
            bottom_up = tower[::-1]
            for lower, upper in pairwise(bottom_up):
                order.append((self.index(upper), self.index(lower)))
        return tuple(order)

    @cached_property
    def supports(self) -> dict[int, int | None]:
        """Goal support of every block: another block's index, or TABLE (None)."""
        goal: dict[int, int | None] = {}
        for tower in self.towers:
            for i, letter in enumerate(tower):
                below = tower[i + 1] if i + 1 < len(tower) else None
                goal[self.index(letter)] = None if below is None else self.index(below)
        return goal

    @property
    def tower_heights(self) -> tuple[int, ...]:
        """Relabelling class: two tasks are equal up to renaming letters iff these match."""
        return tuple(len(t) for t in self.towers)

    def __str__(self) -> str:
        return self.string


def parse_task(text: str) -> Task:
    """Parse and validate a task string; raise TaskError naming the problem and the fix."""
    if not isinstance(text, str) or not text.strip():
        raise TaskError("empty task string; write towers top block first, e.g. 'ab cd'")
    towers = tuple(text.split())
    letters = "".join(towers)
    for ch in letters:
        if ch not in BLOCK_LETTERS:
            raise TaskError(
                f"task {text!r}: unknown block {ch!r}; blocks are lower-case letters a..j"
            )
    repeated = sorted({ch for ch in letters if letters.count(ch) > 1})
    if repeated:
        raise TaskError(
            f"task {text!r}: block {repeated[0]!r} used twice; use each block once, e.g. 'ab cd'"
        )
    n = len(letters)
    if n < MIN_BLOCKS:
        raise TaskError(f"task {text!r}: {n} block; a task needs {MIN_BLOCKS}..{MAX_BLOCKS}")
    missing = [ch for ch in BLOCK_LETTERS[:n] if ch not in letters]
    if missing:
        raise TaskError(
            f"task {text!r}: skips block {missing[0]!r}; a task with {n} blocks uses "
            f"exactly {BLOCK_LETTERS[:n]!r}"
        )
    return Task(towers)


# --- relabelling classes and the train/test split (paper §5, appendix B.2) ----------------------
#
# Two tasks are equal up to renaming the letters iff they have the same sequence of tower heights
# (string order = build order, so (2, 1) "ab c" and (1, 2) "a bc" are different classes). The
# classes with n blocks are the ordered compositions of n; stages = n - number of towers.

SPLIT_SEED = 0  # seed of the committed config/tasks/{train,test}.txt
# Paper Fig. 3: 140 training tasks with 1-7 stages, 43 test tasks with 2, 4, 5, 6, 7, 8 stages.
# The paper does not give the per-stage counts; ours spread both sets evenly over their stages.
TRAIN_PER_STAGE = {1: 20, 2: 20, 3: 20, 4: 20, 5: 20, 6: 20, 7: 20}  # 140
TEST_PER_STAGE = {2: 7, 4: 7, 5: 7, 6: 7, 7: 7, 8: 8}  # 43
# Validation: classes in neither train nor test, where defaults are chosen. 8 stages has only
# 10 classes (9-10 blocks) and test takes 8 of them, so validation gets the other 2.
VAL_PER_STAGE = {2: 5, 4: 5, 5: 5, 6: 5, 7: 5, 8: 2}  # 27


def compositions(n: int) -> list[tuple[int, ...]]:
    """Every ordered sequence of positive tower heights summing to n, in lexicographic order."""
    if n == 0:
        return [()]
    return [(first, *rest) for first in range(1, n + 1) for rest in compositions(n - first)]


def relabelling_classes(n_stages: int) -> list[tuple[int, ...]]:
    """All tower-height sequences with `n_stages` stages and 2..10 blocks, sorted."""
    classes = []
    for n in range(MIN_BLOCKS, MAX_BLOCKS + 1):
        classes += [h for h in compositions(n) if n - len(h) == n_stages]
    return sorted(classes)


def task_of_class(heights: tuple[int, ...], letters: str | None = None) -> Task:
    """The task with these tower heights, filled with `letters` in string order.

    Without `letters` this is the class's canonical representative: "ab cd" for (2, 2).
    """
    n = sum(heights)
    letters = BLOCK_LETTERS[:n] if letters is None else letters
    if sorted(letters) != list(BLOCK_LETTERS[:n]):
        raise TaskError(f"letters {letters!r} must be a permutation of {BLOCK_LETTERS[:n]!r}")
    towers, start = [], 0
    for h in heights:
        towers.append(letters[start:start + h])
        start += h
    return parse_task(" ".join(towers))


def canonical(task: Task) -> Task:
    """The representative of `task`'s relabelling class (letters renamed in string order)."""
    return task_of_class(task.tower_heights)


@dataclass(frozen=True)
class TaskSplit:
    train: tuple[Task, ...]
    test: tuple[Task, ...]
    seed: int
    val: tuple[Task, ...] = ()


def _spread_over_block_counts(classes: list, rng) -> list[tuple[int, ...]]:
    """Shuffle, then interleave by block count so any prefix covers small and large scenes."""
    by_n: dict[int, list] = {}
    for h in classes:
        by_n.setdefault(sum(h), []).append(h)
    for group in by_n.values():
        rng.shuffle(group)
    order = []
    while any(by_n.values()):
        for n in sorted(by_n):
            if by_n[n]:
                order.append(by_n[n].pop())
    return order


def _pick(n_stages: int, count: int, taken: set, rng) -> list[tuple[int, ...]]:
    free = [h for h in relabelling_classes(n_stages) if h not in taken]
    if count > len(free):
        raise InputError(
            f"{count} tasks with {n_stages} stages requested but only {len(free)} unused "
            f"relabelling classes exist; lower the count"
        )
    return _spread_over_block_counts(free, rng)[:count]


def _with_random_letters(heights: tuple[int, ...], rng) -> Task:
    letters = list(BLOCK_LETTERS[: sum(heights)])
    rng.shuffle(letters)  # so towers are not always "ab cd"; the class stays the same
    return task_of_class(heights, "".join(letters))


def split_tasks(seed: int = SPLIT_SEED, train_per_stage: dict[int, int] | None = None,
                test_per_stage: dict[int, int] | None = None,
                val_per_stage: dict[int, int] | None = None) -> TaskSplit:
    """The deterministic train/test/validation split.

    Rule: for each stage count, classes (tower-height sequences) are shuffled by a
    random.Random(seed) and interleaved by block count; training takes the first
    `train_per_stage[s]` classes, test the next `test_per_stage[s]` classes not used by training,
    validation then `val_per_stage[s]` classes used by neither (drawn after the other two, so
    adding it left train and test as they were). One task per class in every set, so test and
    validation classes never occur in training (paper B.2). Each task gets a seeded random
    permutation of its letters.
    """
    train_per_stage = TRAIN_PER_STAGE if train_per_stage is None else train_per_stage
    test_per_stage = TEST_PER_STAGE if test_per_stage is None else test_per_stage
    val_per_stage = VAL_PER_STAGE if val_per_stage is None else val_per_stage
    rng = random.Random(seed)  # Random(int) sequences are stable across CPython 3 versions
    taken: set = set()
    sets = []
    for per_stage in (train_per_stage, test_per_stage, val_per_stage):
        chosen = []
        for n_stages in sorted(per_stage):
            picked = _pick(n_stages, per_stage[n_stages], taken, rng)
            taken.update(picked)
            chosen += [_with_random_letters(h, rng) for h in picked]
        sets.append(tuple(chosen))
    return TaskSplit(train=sets[0], test=sets[1], seed=seed, val=sets[2])


def format_task_list(tasks, header: str = "") -> str:
    """One task per line, preceded by '# '-comment lines of `header`."""
    comments = [f"# {line}".rstrip() for line in header.splitlines()]
    return "\n".join([*comments, *(t.string for t in tasks)]) + "\n"


def load_task_list(path) -> list[Task]:
    """Read a task file (one task per line; blank lines and '#' comments ignored)."""
    try:
        text = Path(path).read_text()
    except UnicodeDecodeError:  # e.g. an image passed as --tasks
        raise TaskError(f"{path}: not a text task list (it holds binary data); pass a file "
                        "with one task per line, e.g. config/tasks/test.txt") from None
    tasks = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if line:
            try:
                tasks.append(parse_task(line))
            except TaskError as err:
                raise TaskError(f"{path}:{lineno}: {err}") from None
    return tasks
