"""A simulated ROS session for the ros-* commands and tests: child nodes + a client.

    with SimSession(log_dir) as session:
        session.start("sim_driver", {"task": "ab", "real_time": False, "time_scale": 3.0})
        session.wait_for_service("/sim_driver/status")
        status = session.run_episode(seed=0, max_wall_s=60)   # sim status dict at the end
        session.lifecycle("imitator", "configure", "activate")  # a managed node's transitions

Everything runs on a fresh ROS_DOMAIN_ID with host-only discovery; children are stopped on exit.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from std_srvs.srv import Trigger

from oneshot_ros.nodes.client import RosClient
from oneshot_ros.nodes.launcher import NodeProcesses, ros_environment, unique_domain_id

SIM = "sim_driver"


class SimSession:
    def __init__(self, log_dir: str | Path, domain_id: int | None = None):
        self.domain_id = unique_domain_id() if domain_id is None else domain_id
        self.nodes = NodeProcesses(ros_environment(self.domain_id), log_dir)
        self.ros = RosClient(self.domain_id)

    def start(self, name: str, params: dict) -> None:
        self.nodes.start(name, params)

    def wait_for_service(self, service: str, srv_type=Trigger, timeout_s: float = 60.0) -> None:
        """Wait until `service` exists (nodes import torch/pybullet first: give them time)."""
        client = self.ros.node.create_client(srv_type, service)
        try:
            end = time.monotonic() + timeout_s
            while not client.wait_for_service(timeout_sec=1.0):
                self.nodes.check_alive()
                if time.monotonic() > end:
                    raise TimeoutError(f"{service} did not come up within {timeout_s} s; see "
                                       f"the node logs in {self.nodes.log_dir}")
        finally:
            self.ros.node.destroy_client(client)

    def lifecycle(self, node: str, *transitions: str, timeout_s: float = 120.0) -> None:
        """Run lifecycle transitions of `node` in order (a configure may load for long: the
        timeout is generous). RuntimeError naming the transition and the node's last error
        line when one fails."""
        for transition in transitions:
            ok, message = self.ros.change_state(node, transition, timeout_s)
            if not ok:
                raise RuntimeError(f"{node} could not {transition}: "
                                   f"{self.last_error(node) or message} (logs: "
                                   f"{self.nodes.log_dir})")

    def unconfigure(self, node: str) -> None:
        """Bring a managed node back to unconfigured (its load settings settable again)."""
        steps = {"active": ("deactivate", "cleanup"), "inactive": ("cleanup",)}
        self.lifecycle(node, *steps.get(self.ros.get_state(node), ()))

    def last_error(self, node: str) -> str | None:
        """The text of the node's last ERROR log line, if any."""
        errors = [line for line in self.nodes.log(node).splitlines() if "[ERROR]" in line]
        return errors[-1].split("]: ", 1)[-1] if errors else None

    def wait_until(self, predicate, timeout_s: float, what: str, poll_s: float = 0.25):
        """Call predicate() until it returns a truthy value (returned); children must live."""
        end = time.monotonic() + timeout_s
        while not (result := predicate()):
            self.nodes.check_alive()
            if time.monotonic() > end:
                raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}; see the "
                                   f"node logs in {self.nodes.log_dir}")
            self.ros.spin_for(poll_s)
        return result

    def status(self) -> dict:
        ok, message = self.ros.trigger(f"/{SIM}/status")
        return json.loads(message)

    def reset(self, seed: int, task: str | None = None) -> dict:
        params = {"seed": seed} if task is None else {"seed": seed, "task": task}
        self.ros.set_params(SIM, params)
        ok, message = self.ros.trigger(f"/{SIM}/reset")
        if not ok:
            raise ValueError(f"sim reset failed: {message}")
        return json.loads(message)

    def wait_steps(self, n_steps: int, timeout_s: float = 30.0) -> dict:
        end = time.monotonic() + timeout_s
        while (status := self.status())["step"] < n_steps:
            self.nodes.check_alive()
            if time.monotonic() > end:
                raise TimeoutError(f"the sim did not reach step {n_steps} in {timeout_s} s")
            self.ros.spin_for(0.05)
        return status

    def run_until_done(self, max_wall_s: float, settle_steps: int = 5, poll_s: float = 0.2,
                       max_steps: int | None = None, stop_outcomes: tuple = ()) -> dict:
        """Poll the sim until success has held for settle_steps, an outcome in stop_outcomes
        (e.g. a block off the table), the horizon (or max_steps) counted from the episode's
        first command, or max_wall_s."""
        end, success_at = time.monotonic() + max_wall_s, None
        while True:
            self.nodes.check_alive()
            status = self.status()
            if status["success"] and success_at is None:
                success_at = status["step"]
            if not status["success"]:
                success_at = None
            settled = success_at is not None and status["step"] - success_at >= settle_steps
            limit = min(status["horizon"], max_steps or status["horizon"])
            steps = status["step"] - (status.get("first_command_step") or 0)
            if (settled or steps >= limit or status["outcome"] in stop_outcomes
                    or time.monotonic() > end):
                return status
            self.ros.spin_for(poll_s)

    def close(self) -> None:
        try:
            self.nodes.stop_all()
        finally:
            self.ros.close()

    def __enter__(self) -> SimSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
