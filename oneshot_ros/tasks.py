"""Block-stacking tasks: "ab cd" ⇄ Task, stage counts, build order.

A task is a string of towers separated by spaces, each written TOP block first: "ab cd" = A on B,
C on D; "abc" = A on B on C; a lone letter is a block left on the table. A task uses the first n
letters a..j (2 <= n <= 10), each exactly once. stages = blocks − towers.

The order of the towers in the string is the build order (towers left to right, each bottom-up),
which is what a demonstration shows and the final-state baseline cannot see (paper.md §1).
"""

from __future__ import annotations

from dataclasses import dataclass

from oneshot_ros.robot import BLOCK_LETTERS, MAX_BLOCKS, MIN_BLOCKS

TABLE = None  # support of a tower's bottom block


class TaskError(ValueError):
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

    @property
    def placements(self) -> tuple[tuple[int, int], ...]:
        """The stages in build order: (block index, support block index)."""
        order = []
        for tower in self.towers:
            bottom_up = tower[::-1]
            for lower, upper in zip(bottom_up, bottom_up[1:]):
                order.append((self.index(upper), self.index(lower)))
        return tuple(order)

    @property
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
