"""Task parsing, canonical form, build order, and the train/test split's properties."""

from collections import Counter
from pathlib import Path

import pytest

from oneshot_ros.cli import main
from oneshot_ros.world.tasks import (
    TEST_PER_STAGE,
    TRAIN_PER_STAGE,
    VAL_PER_STAGE,
    TaskError,
    canonical,
    compositions,
    load_task_list,
    parse_task,
    relabelling_classes,
    split_tasks,
    task_of_class,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "text, problem",
    [
        ("abca", "'a' used twice"),
        ("ak", "unknown block 'k'"),
        ("", "empty task"),
        ("   ", "empty task"),
        ("ac", "skips block 'b'"),
        ("a", "1 block"),
        ("AB", "unknown block 'A'"),
    ],
)
def test_parse_errors_name_the_problem(text, problem):
    with pytest.raises(TaskError, match=problem):
        parse_task(text)


def test_task_error_is_a_value_error_so_the_cli_prints_one_line():
    assert issubclass(TaskError, ValueError)


def test_canonical_string_normalises_whitespace_and_round_trips():
    task = parse_task("  ab   cd\te ")
    assert task.string == "ab cd e" == str(task)
    assert parse_task(task.string) == task


def test_canonical_relabelling_representative():
    assert canonical(parse_task("dc ba")).string == "ab cd"
    assert canonical(parse_task("c ab")).string == "a bc"
    assert canonical(parse_task("c ab")) != canonical(parse_task("ca b"))  # order matters
    assert task_of_class((3, 1)).string == "abc d"
    assert task_of_class((2, 1), "cab").string == "ca b"
    with pytest.raises(TaskError, match="permutation"):
        task_of_class((2, 1), "abd")


@pytest.mark.parametrize(
    "text, n_blocks, n_stages",
    [("ab", 2, 1), ("a b", 2, 0), ("ab cd ef gh", 8, 4), ("ab cde fg hij", 10, 6),
     ("abcdefghij", 10, 9)],
)
def test_stages_are_blocks_minus_towers(text, n_blocks, n_stages):
    task = parse_task(text)
    assert (task.n_blocks, task.n_stages) == (n_blocks, n_stages)


def test_build_order_is_towers_left_to_right_each_bottom_up():
    task = parse_task("cb ead")
    # tower "cb": C on B; tower "ead": A on D, then E on A
    assert task.placements == ((2, 1), (0, 3), (4, 0))
    assert task.supports == {0: 3, 1: None, 2: 1, 3: None, 4: 0}
    assert task.tower_heights == (2, 3)
    assert task.blocks == "abcde"


def test_relabelling_classes_are_ordered_compositions():
    assert compositions(3) == [(1, 1, 1), (1, 2), (2, 1), (3,)]
    counts = {s: len(relabelling_classes(s)) for s in range(10)}
    assert counts == {0: 9, 1: 45, 2: 120, 3: 210, 4: 252, 5: 210, 6: 120, 7: 45, 8: 10, 9: 1}


@pytest.fixture(scope="module")
def split():
    return split_tasks()


def test_split_counts_and_stage_sets(split):
    assert len(split.train) == 140 and len(split.test) == 43
    assert set(Counter(t.n_stages for t in split.train)) == set(range(1, 8))
    assert set(Counter(t.n_stages for t in split.test)) == {2, 4, 5, 6, 7, 8}
    assert Counter(t.n_stages for t in split.train) == Counter(TRAIN_PER_STAGE)
    assert Counter(t.n_stages for t in split.test) == Counter(TEST_PER_STAGE)


def test_validation_classes_are_in_neither_train_nor_test(split):
    val_classes = [t.tower_heights for t in split.val]
    assert Counter(t.n_stages for t in split.val) == Counter(VAL_PER_STAGE)
    assert len(set(val_classes)) == len(val_classes) == 27
    assert not set(val_classes) & {t.tower_heights for t in split.train + split.test}
    assert {9, 10} <= {t.n_blocks for t in split.val}  # the largest scenes too


def test_split_tasks_are_valid_and_all_different(split):
    tasks = split.train + split.test + split.val
    assert len({t.string for t in tasks}) == len(tasks)
    assert all(parse_task(t.string) == t for t in tasks)
    assert all(2 <= t.n_blocks <= 10 for t in tasks)


def test_one_training_task_per_class_and_test_classes_unseen(split):
    train_classes = [t.tower_heights for t in split.train]
    test_classes = [t.tower_heights for t in split.test]
    assert len(set(train_classes)) == len(train_classes)
    assert len(set(test_classes)) == len(test_classes)
    assert not set(train_classes) & set(test_classes)


def test_split_spreads_block_counts_and_letters(split):
    assert len({t.n_blocks for t in split.train}) == 9  # 2..10 blocks
    assert any(canonical(t) != t for t in split.train)  # letters are permuted


def test_split_is_deterministic_and_seeded(split):
    assert split_tasks() == split
    assert split_tasks(seed=1) != split


def test_split_rejects_impossible_counts():
    with pytest.raises(ValueError, match="only 10 unused"):
        split_tasks(train_per_stage={}, test_per_stage={8: 11})


def test_cli_writes_the_split_files(tmp_path, split):
    assert main(["tasks", "split", "--out-dir", str(tmp_path / "tasks")]) == 0
    train = load_task_list(tmp_path / "tasks" / "train.txt")
    test = load_task_list(tmp_path / "tasks" / "test.txt")
    val = load_task_list(tmp_path / "tasks" / "val.txt")
    assert (tuple(train), tuple(test), tuple(val)) == (split.train, split.test, split.val)
    assert (tmp_path / "tasks" / "train.txt").read_text().startswith("# train: 140 tasks")


def test_cli_seed_changes_the_split(tmp_path):
    assert main(["tasks", "split", "--out-dir", str(tmp_path), "--seed", "3"]) == 0
    assert tuple(load_task_list(tmp_path / "test.txt")) == split_tasks(seed=3).test


def test_committed_split_files_match_the_generator(split):
    assert tuple(load_task_list(REPO / "config/tasks/train.txt")) == split.train
    assert tuple(load_task_list(REPO / "config/tasks/test.txt")) == split.test
    assert tuple(load_task_list(REPO / "config/tasks/val.txt")) == split.val


def test_load_task_list_names_the_bad_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("# header\nab\n\nabca\n")
    with pytest.raises(TaskError, match="bad.txt:4: .*'a' used twice"):
        load_task_list(path)
