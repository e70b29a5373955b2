"""Shared fixtures for the node tests: a private ROS session, a tiny policy, a demo file.

Node tests run real nodes in real processes on their own ROS_DOMAIN_ID; every child is stopped
in the fixture's teardown, also when the test fails.
"""

from __future__ import annotations

import dataclasses

import pytest


@pytest.fixture
def ros_session(tmp_path):
    pytest.importorskip("rclpy")
    from oneshot_ros.nodes.session import SimSession

    session = SimSession(tmp_path / "logs")
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """An untrained few-thousand-parameter checkpoint: exercises the whole runtime path."""
    from policy_data import tiny_config

    from oneshot_ros.policy import checkpoint
    from oneshot_ros.policy.modeling import OneShotPolicy

    return checkpoint.save(OneShotPolicy(tiny_config()), tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def ab_demo_file(tmp_path_factory):
    """One noise-free scripted demonstration of "ab" (2 blocks) in the collect format."""
    from oneshot_ros.data.storage import DemoWriter
    from oneshot_ros.demos.demonstrator import run_episode
    from oneshot_ros.sim.env import StackingEnv

    env = StackingEnv()
    episode = run_episode(env, "ab", 5, noise=0.0)
    env.close()
    path = tmp_path_factory.mktemp("demo") / "ab.h5"
    with DemoWriter(path, dataclasses.asdict(env.config)) as writer:
        writer.append(episode)
    return path


@pytest.fixture(scope="session")
def small_demo_file(tmp_path_factory):
    """Real scripted demonstrations: 2 one-stage tasks x 4 demos, written by `collect`."""
    from oneshot_ros.demos.collect import collect

    path = tmp_path_factory.mktemp("demos") / "small.h5"
    collect(["ab", "ab c"], 4, path, workers=1, noise=0.002, progress=False)
    return path
