"""How a joint command reaches PyBullet's servos: at once (the default), or as a real arm's.

    actuation = Actuation(config)           # inactive when every setting below is 0
    actuation.reset(arm_q, gap_m)
    actuation.command(arm_q, gap_m)         # once per control period: the new targets
    arm_setpoint, gap = actuation.substep() # once per physics step

WorldConfig settings (each 0 = off; defaults reproduce the world every model was trained in):
- command_latency_periods: a command takes effect this many control periods after it was
  given (DDS and a controller's queue add 5-50 ms on a real robot; 0-2 periods);
- tracking_time_constant_s: the arm setpoint follows the target through a first-order lag
  (a real arm_controller's tracking), on top of PyBullet's servo;
- actuation_max_velocity_rad_s: the setpoint moves each joint at most this fast per second.
The gripper command shares the latency. Plain numpy, no PyBullet.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from oneshot_ros.world.world_config import WorldConfig


class Actuation:
    def __init__(self, config: WorldConfig):
        substeps, dt = config.substeps, 1.0 / config.physics_hz
        self.delay = int(round(config.command_latency_periods * substeps))  # physics steps
        tau = config.tracking_time_constant_s
        self.gain = 1.0 - math.exp(-dt / tau) if tau > 0 else 1.0  # per physics step
        vmax = config.actuation_max_velocity_rad_s
        self.max_step = vmax * dt if vmax > 0 else math.inf  # rad per physics step
        self.active = self.delay > 0 or self.gain < 1.0 or vmax > 0

    def reset(self, arm_q, gap_m: float) -> None:
        self.setpoint = np.array(arm_q, dtype=np.float64)  # (7,)
        self.target, self.gap = self.setpoint.copy(), float(gap_m)
        self.queue: deque = deque()  # (physics step it takes effect, arm (7,), gap)
        self.t = 0

    def command(self, arm_q, gap_m: float) -> None:
        self.queue.append((self.t + self.delay, np.array(arm_q, dtype=np.float64), gap_m))

    def substep(self) -> tuple[np.ndarray, float]:
        while self.queue and self.queue[0][0] <= self.t:
            _, self.target, self.gap = self.queue.popleft()
        step = np.clip(self.gain * (self.target - self.setpoint), -self.max_step, self.max_step)
        self.setpoint = self.setpoint + step
        self.t += 1
        return self.setpoint, self.gap
