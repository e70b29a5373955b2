"""WorldConfig: every physical and timing setting of the stacking world, in one typed dataclass.

Defaults: 240 Hz physics, 50 solver iterations (bench/tower_stability.py), a finger gear,
combined friction 0.5; override them from YAML (`config/world.yaml`) with config.load_yaml.
Datasets and checkpoints store this config; readers refuse a mismatch of the layout fields.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from oneshot_ros.robot import TORSO_UP_M, ActionLayout


@dataclass(frozen=True)
class WorldConfig:
    # Hz, policy step rate: ~120 steps per stage, so temporal dropout (keep 5%) sees ~6 a stage
    control_hz: float = 20.0
    physics_hz: float = 240.0  # Hz, Bullet fixed time step
    solver_iterations: int = 50  # fewer collapse tall towers (bench/tower_stability.py)
    # (m/s)^2: an island stops iterating once its largest squared velocity correction of an
    # iteration is below this (1 cm/s), so resting stacks stop early while a grasp or a landing
    # block still gets all solver_iterations. Bullet's 1e-7 iterates settled towers to the cap
    # (~1.2x slower physics); towers stand either way, settling ~1 mm less
    # (bench/tower_stability.py).
    solver_residual_threshold: float = 1e-4
    max_step_m: float = 0.015  # m per control step, clip of each of dx, dy, dz (0.3 m/s)
    table_height_m: float = 0.72  # table top above base_link origin (the floor)
    table_x_m: tuple[float, float] = (0.32, 1.0)  # base_link x; the near edge clears the base
    table_y_m: tuple[float, float] = (-0.6, 0.6)
    torso_m: float = TORSO_UP_M  # torso fully up puts the table inside the top-down workspace
    block_size_m: float = 0.05  # cube edge
    block_mass_kg: float = 0.1
    block_friction: float = 0.5  # Bullet multiplies: 0.5 x finger 1.0 = combined 0.5
    finger_friction: float = 1.0
    finger_force_n: float = 30.0  # per finger; >= 5 N holds a 0.1 kg cube
    open_gap_m: float = 0.08  # finger gap when open (Fetch API: 0..0.1); 8 cm clears a 5 cm cube
    # Start layout: block centres inside this annulus around the shoulder-pan axis (base x 0.0327)
    spawn_radius_m: tuple[float, float] = (0.45, 0.70)
    spawn_bearing_rad: float = 0.55  # |bearing| from straight ahead
    spawn_min_distance_m: float = 0.11  # between block centres; fingers need room on the y faces
    horizon_base_steps: int = 100  # horizon = base + per_stage * n_stages (control steps)
    horizon_per_stage_steps: int = 200
    place_tolerance_xy_m: float = 0.025  # success: block centred on its support within this
    place_tolerance_z_m: float = 0.01  # success: centre height = support + block size ± this
    settle_s: float = 0.5  # physics settling after reset, before the first observation
    render_width: int = 320
    render_height: int = 240
    # A real arm and perception stack (sim/actuation.py, sim/perception.py); 0 = off, the
    # world every shipped model was trained in. Older files that lack these keys mean 0.
    command_latency_periods: float = 0.0  # control periods between a command and its effect
    tracking_time_constant_s: float = 0.0  # s, first-order lag of the arm's setpoint
    actuation_max_velocity_rad_s: float = 0.0  # rad/s per joint on the setpoint (0 = none)
    block_pose_noise_m: float = 0.0  # m, std of the noise on each reported block coordinate
    block_pose_dropout: float = 0.0  # chance that a step reports the previous poses again

    def __post_init__(self):
        ActionLayout(self.max_step_m)  # validates the clip
        if self.physics_hz % self.control_hz:
            raise ValueError(
                f"physics_hz={self.physics_hz} must be a multiple of control_hz={self.control_hz}"
            )
        if not 0.05 < self.open_gap_m <= 0.1:
            raise ValueError(f"open_gap_m={self.open_gap_m}: use (0.05, 0.1] to clear a 5 cm cube")
        if not 0.0 <= self.solver_residual_threshold <= 1e-3:
            raise ValueError(f"solver_residual_threshold={self.solver_residual_threshold}: use "
                             "0..1e-3 (m/s)^2; 1e-4 (default) is measured stable")
        if not 0.0 <= self.command_latency_periods <= 2.0:
            raise ValueError(f"command_latency_periods={self.command_latency_periods}: use "
                             "0..2 control periods")
        if not 0.0 <= self.block_pose_dropout < 1.0:
            raise ValueError(f"block_pose_dropout={self.block_pose_dropout}: use a chance in "
                             "[0, 1)")
        for name in ("tracking_time_constant_s", "actuation_max_velocity_rad_s",
                     "block_pose_noise_m"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)}: use 0 (off) or more")
        if self.solver_iterations < 20:
            raise ValueError("solver_iterations < 20 collapses tall towers; use 50 (default)")

    @property
    def substeps(self) -> int:
        return int(round(self.physics_hz / self.control_hz))

    @property
    def action_layout(self) -> ActionLayout:
        return ActionLayout(self.max_step_m)

    def horizon(self, n_stages: int) -> int:
        return self.horizon_base_steps + self.horizon_per_stage_steps * n_stages


def default_world_config() -> dict:
    """WorldConfig() as a JSON-able dict (what demonstration files store)."""
    return dataclasses.asdict(WorldConfig())


def with_defaults(world: dict) -> dict:
    """A stored world config with the fields added since it was written at their defaults
    (which reproduce the world it was made in), JSON-normalised: compare these, not raw dicts."""
    return json.loads(json.dumps({**default_world_config(), **world}, sort_keys=True))
