"""Start layouts: a sequential draw that boxes itself in starts over instead of failing."""

import numpy as np

from oneshot_ros.world import layout
from oneshot_ros.world.world_config import WorldConfig

BOXED_IN_SEED = 2986  # 10 blocks: the first 20,000 draws leave no room for the last block


def test_a_boxed_in_draw_starts_over_and_places_every_block():
    config = WorldConfig()
    assert layout._place_in_turn(config, 10, np.random.default_rng(BOXED_IN_SEED)) is None
    blocks = layout.sample_start(config, 10, np.random.default_rng(BOXED_IN_SEED))
    assert blocks.shape == (10, 3)
    for i in range(10):
        for j in range(i):
            assert layout._clear(blocks[i], blocks[j], config)


def test_layouts_found_in_the_first_round_are_unchanged():
    config = WorldConfig()
    for seed in range(20):
        first = layout._place_in_turn(config, 10, np.random.default_rng(seed))
        np.testing.assert_array_equal(
            layout.sample_start(config, 10, np.random.default_rng(seed)), first)
