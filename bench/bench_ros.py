"""ROS 2 imitator speed: state-to-command latency and control rate under a 1 kHz /joint_states.

    python bench/bench_ros.py [--model models/bc_stack] [--seconds 10] \
        [--out bench/results/bench_ros.json]

Runs three processes on a private ROS_DOMAIN_ID: the imitator node (the given checkpoint, or an
untrained default-size OneShotPolicy when it is missing: same compute), a stream process
publishing /joint_states at 1 kHz and /block_poses at the control rate, and this process, which
activates the imitator and listens. Reported:
  latency: from the arrival of the /joint_states message a command is computed from to the
           publication of that command, measured inside the node (~/latency_s, on with
           publish_latency:=true): observation + policy + IK + clamps + publish;
  rate:    commands/s received here vs the configured control rate; the stream's achieved rate.
Aim: p99 <= 5 ms and the configured rate held. The load average is recorded: on a
shared 2-core machine other jobs inflate the tail.

    python bench/bench_ros.py --baseline 79d7f63 [--repeats 3]

Before/after in one run: the imitator node of the code at --baseline (a git revision,
extracted with `git archive`) and of this tree take turns (baseline, current, current,
baseline, ...), each on a fresh session with the same model, demo and stream; the latencies of
each version's repeats are pooled. Children run from a neutral directory with PYTHONPATH naming
their tree (each tree's oneshot_ros location is recorded).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STREAM = r"""
import sys, time, rclpy
from geometry_msgs.msg import PoseArray
from sensor_msgs.msg import JointState
from oneshot_ros.nodes import conversions as conv
from oneshot_ros.world.robot import ARM_JOINTS, FINGER_JOINTS, READY_ARM, TORSO_JOINT, TORSO_UP_M
rate_hz, control_hz, seconds = map(float, sys.argv[1:4])
rclpy.init()
node = rclpy.create_node("joint_state_stream")
joints = node.create_publisher(JointState, conv.JOINT_STATES_TOPIC, 10)
poses = node.create_publisher(PoseArray, conv.BLOCK_POSES_TOPIC, 10)
names = {TORSO_JOINT: TORSO_UP_M, **dict(zip(ARM_JOINTS, READY_ARM)),
         **dict.fromkeys(FINGER_JOINTS, 0.04)}
blocks = [[0.6, 0.1, 0.745], [0.55, -0.15, 0.745]]
start, sent, every = time.perf_counter(), 0, int(rate_hz / control_hz)
while time.perf_counter() - start < seconds:
    now = node.get_clock().now().to_msg()
    if sent % every == 0:
        poses.publish(conv.pose_array(blocks, now))
    joints.publish(conv.joint_state(names, now))
    sent += 1
    next_t = start + sent / rate_hz
    time.sleep(max(0.0, next_t - time.perf_counter()))  # no busy-wait: 2 shared cores
print(sent / (time.perf_counter() - start), flush=True)
"""


def make_model(model: str | None, work: Path) -> Path:
    if model and (Path(model) / "config.json").is_file():
        return Path(model)
    from oneshot_ros.policy import checkpoint
    from oneshot_ros.policy.configuration import PolicyConfig
    from oneshot_ros.policy.modeling import OneShotPolicy

    return checkpoint.save(OneShotPolicy(PolicyConfig()), work / "untrained")


def make_demo(work: Path) -> Path:
    from oneshot_ros.data.storage import DemoWriter
    from oneshot_ros.demos.demonstrator import run_episode
    from oneshot_ros.sim.env import StackingEnv

    env = StackingEnv()
    episode = run_episode(env, "ab", 0, noise=0.0)
    env.close()
    with DemoWriter(work / "demo.h5", dataclasses.asdict(env.config)) as writer:
        writer.append(episode)
    return work / "demo.h5"


def measure(args, model: Path, demo: Path, work: Path, tree: str | None = None) -> dict:
    from std_msgs.msg import Float64
    from std_srvs.srv import SetBool
    from trajectory_msgs.msg import JointTrajectory

    from oneshot_ros.nodes import conversions as conv
    from oneshot_ros.nodes.session import SimSession
    from oneshot_ros.world.world_config import WorldConfig

    control_hz = WorldConfig().control_hz
    with SimSession(work / "logs") as session:
        if tree is not None:  # the children import oneshot_ros from this tree
            session.nodes.env["PYTHONPATH"] = tree
        session.start("imitator", {"model": str(model), "demo_file": str(demo),
                                   "publish_latency": True})
        session.wait_for_service("/imitator/activate", SetBool)
        latency = session.ros.collect("/imitator/latency_s", Float64, depth=1000)
        commands = session.ros.collect(conv.ARM_COMMAND_TOPIC, JointTrajectory, depth=1000)
        stream = subprocess.Popen(
            [sys.executable, "-c", STREAM, str(args.rate_hz), str(control_hz),
             str(args.seconds + 4)], env=session.nodes.env, stdout=subprocess.PIPE, text=True)
        try:
            session.wait_until(lambda: session.ros.set_bool("/imitator/activate", True)[0],
                               120, "the imitator to load its policy")
            session.ros.spin_for(2.0)  # warm-up
            latency.clear(), commands.clear()
            session.ros.spin_for(args.seconds)
            n_commands, n_latency = len(commands), [m.data for _, m in latency]
            stream_hz = float(stream.communicate(timeout=30)[0].split()[-1])
        finally:
            if stream.poll() is None:
                stream.kill()
    ms = np.array(n_latency) * 1000.0
    times = np.array([t for t, _ in commands])
    return {"latency_ms": {"median": float(np.median(ms)), "p99": float(np.percentile(ms, 99)),
                           "max": float(ms.max()), "n": len(ms)}, "samples_ms": ms.tolist(),
            "control_rate_hz": {"configured": control_hz,
                                "achieved": n_commands / args.seconds,
                                "interval_p99_ms": float(np.percentile(np.diff(times), 99)
                                                         * 1000) if len(times) > 2 else None},
            "joint_states_stream_hz": {"configured": args.rate_hz, "achieved": stream_hz}}


def compare(args, model: Path, demo: Path, work: Path) -> dict:
    """--baseline: alternate the baseline tree and this one; see the module docstring."""
    root = Path(__file__).resolve().parents[1]
    base = work / "baseline"
    base.mkdir()
    archive = subprocess.run(["git", "-C", str(root), "archive", args.baseline, "oneshot_ros"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
    trees = {"baseline": str(base), "current": str(root)}
    neutral = work / "cwd"
    neutral.mkdir()
    os.chdir(neutral)  # `python -m` puts the cwd first on sys.path: keep it free of packages
    pooled = {name: [] for name in trees}
    runs = {name: [] for name in trees}
    for repeat in range(max(args.repeats, 1)):
        for name in (trees if repeat % 2 == 0 else reversed(list(trees))):
            run = measure(args, model, demo, work / f"{name}{repeat}", trees[name])
            pooled[name] += run.pop("samples_ms")
            runs[name].append(run)
    result = {"baseline_revision": args.baseline}
    for name, tree in trees.items():
        module = subprocess.run(
            [sys.executable, "-c", "import oneshot_ros; print(oneshot_ros.__file__)"],
            env={**os.environ, "PYTHONPATH": tree}, capture_output=True, text=True,
            check=True).stdout.strip()
        ms = np.array(pooled[name])
        result[name] = {"oneshot_ros": module,
                        "latency_ms": {"median": float(np.median(ms)),
                                       "p99": float(np.percentile(ms, 99)),
                                       "max": float(ms.max()), "n": len(ms)},
                        "runs": runs[name]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="models/bc_stack")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate-hz", type=float, default=1000.0, help="/joint_states stream")
    parser.add_argument("--out", default="bench/results/bench_ros.json")
    parser.add_argument("--baseline", metavar="REV", help="also run the imitator of this git "
                        "revision, alternating with this tree's")
    parser.add_argument("--repeats", type=int, default=3, help="runs per version (--baseline)")
    args = parser.parse_args()
    args.out = str(Path(args.out).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = make_model(args.model, work).resolve()
        demo = make_demo(work)
        if args.baseline:
            result = compare(args, model, demo, work)
        else:
            result = measure(args, model, demo, work)
            result.pop("samples_ms")
    result.update(model=str(args.model if model.parent != work else "untrained default"),
                  load_average=os.getloadavg(), cpus=os.cpu_count(),
                  date=time.strftime("%Y-%m-%d %H:%M"))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
