"""Episodes closed through the real nodes, for `oneshot-ros eval --ros`.

    with RosEpisodes(work_dir, model_dir, time_scale=1.0) as ros:
        result = ros.run("ab cd", seed, demo_file, max_steps=None)
        # {"success", "outcome", "steps", "horizon", "n_placed", "commanded_periods",
        #  "missed_periods", "late_commands", "valid", "wall_s"}

sim_driver and imitator run as processes over DDS on a private ROS_DOMAIN_ID for the whole
run; each episode re-conditions the imitator through its lifecycle (cleanup, set demo_file and
seed: the temporal-dropout seed, as rollout.policy_episode seeds it; configure: the load),
resets the driver over ~/reset, activates the imitator (lifecycle `activate`; `deactivate`
after the episode) and is judged from the driver's ~/status once success has held
SETTLE_STEPS, a block fell off the table, or the horizon (max_steps) counted from the first
command ran out. An episode in which the imitator missed a control period or answered late is
`valid: False`: its result reflects the machine's speed, not the policy.
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml
from lifecycle_msgs.srv import GetState

from oneshot_ros.demos.episode_loop import SETTLE_STEPS
from oneshot_ros.errors import InputError
from oneshot_ros.nodes.session import SimSession
from oneshot_ros.world.success import MANIPULATION

IMITATOR, SIM = "imitator", "sim_driver"
POLL_S = 0.05  # status polls: the horizon and the settling are judged within ~1 step
LOAD_TIMEOUT_S = 120.0  # the imitator loads the model and the demo (longer on a busy machine)


class RosEpisodes:
    def __init__(self, work_dir: str | Path, model_dir: str | Path, time_scale: float = 1.0,
                 ensemble: int | None = None, world_config: dict | None = None,
                 imitator_params: dict | None = None):
        if not time_scale > 0:
            raise InputError(f"time_scale={time_scale}: use a positive speed, e.g. 1.0")
        self.work = Path(work_dir)
        self.work.mkdir(parents=True, exist_ok=True)
        self.model_dir, self.time_scale = str(Path(model_dir).resolve()), time_scale
        self.ensemble, self.world_config = ensemble, dict(world_config or {})
        self.imitator_params = dict(imitator_params or {})  # overrides of config/imitator.yaml
        self.session: SimSession | None = None

    def __enter__(self) -> RosEpisodes:
        self.session = SimSession(self.work / "logs")
        try:
            self._start(self.session)
        except BaseException:
            self.session.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.session.close()

    def _start(self, session: SimSession) -> None:
        world = self._world_file()
        session.start(SIM, {"real_time": False, "time_scale": self.time_scale,
                            "world_config": world})
        session.start(IMITATOR, {"model": self.model_dir, "ensemble": self.ensemble or 0,
                                 "active": False, "world_config": world,
                                 **self.imitator_params})
        try:
            session.wait_for_service(f"/{SIM}/status")
            session.wait_for_service(f"/{IMITATOR}/get_state", GetState)
        except RuntimeError as err:  # a node exited: bad parameters, most likely
            last = str(err).strip().splitlines()[-1]
            raise InputError(f"a node did not start: {last} (logs: {session.nodes.log_dir})"
                             ) from None

    def _world_file(self) -> str:
        return world_file(self.work, self.world_config)

    def run(self, task: str, seed: int, demo_file: Path, max_steps: int | None = None) -> dict:
        """One episode of `task` from layout `seed`, conditioned on demo 0 of demo_file."""
        session = self.session
        self._condition(demo_file, seed)
        start = time.perf_counter()
        session.reset(seed, task)
        session.wait_steps(2)
        session.lifecycle(IMITATOR, "activate")
        status = self._until_done(max_steps)
        session.lifecycle(IMITATOR, "deactivate")
        return {**result_of(status), "wall_s": round(time.perf_counter() - start, 3)}

    def _condition(self, demo_file: Path, seed: int) -> None:
        """Unload, point the imitator at the demo, load it (configure answers once loaded)."""
        session = self.session
        session.unconfigure(IMITATOR)
        session.ros.set_params(IMITATOR, {"demo_file": str(demo_file), "demo_index": 0,
                                          "seed": seed})
        session.lifecycle(IMITATOR, "configure", timeout_s=LOAD_TIMEOUT_S)

    def _until_done(self, max_steps: int | None) -> dict:
        session = self.session
        first = session.wait_until(self._first_command, 60, "the imitator's first command")
        limit = first["horizon"] if max_steps is None else max_steps
        wall_limit = 120 + 3 * limit / first["control_hz"] / self.time_scale
        return session.run_until_done(max_wall_s=wall_limit, settle_steps=SETTLE_STEPS,
                                      poll_s=POLL_S, max_steps=limit,
                                      stop_outcomes=(MANIPULATION,))

    def _first_command(self) -> dict | None:
        status = self.session.status()
        return status if status["first_command_step"] is not None else None


def result_of(status: dict) -> dict:
    """An episode's result from the driver's final ~/status."""
    timing = {k: status[k] for k in ("commanded_periods", "missed_periods", "late_commands")}
    valid = timing["missed_periods"] == 0 and timing["late_commands"] == 0
    return {"success": status["outcome"] == "success", "outcome": status["outcome"],
            "steps": status["step"] - status["first_command_step"],
            "horizon": status["horizon"], "n_placed": status["n_placed"], **timing,
            "valid": valid}


def world_file(work: Path, world: dict) -> str:
    """A checkpoint's world config as a YAML file in `work` that the nodes read ('' = defaults)."""
    if not world:
        return ""
    path = Path(work) / "world.yaml"
    path.write_text(yaml.safe_dump(world))
    return str(path)
