"""scripted_expert: the scripted demonstrator driving the command topics (demos without a human).

    python -m oneshot_ros.nodes.scripted_expert --ros-args \
        --params-file config/scripted_expert.yaml -p task:="ab cd"

Once per control period (paced by the /joint_states stamps): gripper position by FK of the
measured joints, ScriptedStacker.act on the current scene, then the shared action -> joint
target path (oneshot_ros.world.control, as StackingEnv.step) -> gripper and arm commands.
`latency_compensation:=true`: the scene once the last arm command has landed, and the action
displaces that command (world/command_prediction.py).
Stale inputs: publish nothing (the controllers hold), logged once.
"""

from rclpy.node import Node

from oneshot_ros.demos.demonstrator import ScriptedStacker
from oneshot_ros.nodes.common import (
    RobotStateInput,
    declare_command_output,
    declare_control_period,
    declare_latency_compensation,
    declare_seed,
    declare_stale_timeout,
    declare_world_config,
    run_node,
    task_problem,
)
from oneshot_ros.nodes.params import declare
from oneshot_ros.world import control


class ScriptedExpert(Node):
    def __init__(self):
        super().__init__("scripted_expert")
        self.config = declare_world_config(self)
        task = declare(self, "task", "ab cd", "task of the scene the expert builds",
                       check=task_problem)
        seed = declare_seed(self, "seed of the action noise")
        noise_std = declare(self, "noise_std", 0.0, "m, action noise std on dx, dy, dz",
                            low=0.0, high=0.05)
        period_s = declare_control_period(self, self.config)
        stale_s = declare_stale_timeout(self)
        self.compensate = declare_latency_compensation(self)
        self.expert = ScriptedStacker(task, self.config, noise_std, seed)
        self.gate = control.RateGate(period_s)
        self.state = RobotStateInput(self, stale_s, on_joint_state=self.step)
        self.commands = declare_command_output(self, period_s)
        self.create_timer(0.5, self.state.stale_reason)  # logs when inputs go stale
        self.get_logger().info(f"scripted expert for {task!r}, noise {noise_std} m")

    def step(self) -> None:
        state = self.state
        if state.blocks is None or not self.gate.due(state.stamp_s) or state.stale_reason():
            return
        if len(state.blocks) != self.expert.task.n_blocks:
            self.get_logger().warning(f"/block_poses has {len(state.blocks)} blocks, the task "
                                      f"{self.expert.task.n_blocks}: holding",
                                      throttle_duration_sec=2)
            return
        scene, q_from = state.control_scene(self.config,
                                            self.commands if self.compensate else None)
        action, _ = self.expert.act(scene.gripper, scene.fingers, scene.blocks)
        command = control.action_to_command(state.kin, q_from, state.torso, action,
                                            self.config, gripper=scene.gripper,
                                            blocks=state.blocks)
        self.commands.send(command, state.q_arm, state.stamp)


def main(args=None):
    run_node(ScriptedExpert, args)


if __name__ == "__main__":
    main()
