"""WorldConfig: every physical and timing setting of the stacking world, in one typed dataclass.

Defaults: 240 Hz physics, 50 solver iterations (bench/tower_stability.py), a finger gear,
combined friction 0.5; override them from YAML (`config/world.yaml`) with config.load_yaml.
Datasets and checkpoints store this config; readers refuse a mismatch of the layout fields.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

from oneshot_ros.world.robot import TORSO_UP_M, ActionLayout


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
    # m above the table: the scripted demonstrator moves sideways no higher than this, unless a
    # block near the path needs it (demos/demonstrator.py). 0 = as high as the arm reaches at
    # the gripper's radius, which the observation (blocks relative to the gripper) does not
    # show; a ceiling every layout reaches makes the carry height a function of what it shows.
    carry_ceiling_m: float = 0.0

    def __post_init__(self):
        _check_bounds(self)  # first: the checks below divide by control_hz and compare sizes
        ActionLayout(self.max_step_m)  # validates the clip
        if self.physics_hz % self.control_hz:
            raise ValueError(
                f"physics_hz={self.physics_hz} must be a multiple of control_hz={self.control_hz}"
            )
        if not 0.05 < self.open_gap_m <= 0.1:
            raise ValueError(f"open_gap_m={self.open_gap_m}: use (0.05, 0.1] to clear a 5 cm cube")
        if not self.block_size_m < self.open_gap_m:
            raise ValueError(f"block_size_m={self.block_size_m}: use a value in (0, "
                             f"{self.open_gap_m}) m, below open_gap_m, so the open fingers "
                             "clear the block")
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
            if not 0 <= getattr(self, name) < math.inf:  # also refuses NaN and inf
                raise ValueError(f"{name}={getattr(self, name)}: use 0 (off) or more (finite)")
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


@dataclass(frozen=True)
class Interval:
    """The values a field may take: low..high, each end open or closed (inf is always open)."""

    low: float
    high: float = math.inf
    low_open: bool = True
    high_open: bool = False

    def __contains__(self, value) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below and math.isfinite(value)

    def __str__(self) -> str:
        low = f"{'(' if self.low_open else '['}{self.low:g}"
        if self.high == math.inf:
            return f"{low}, inf)"
        return f"{low}, {self.high:g}{')' if self.high_open else ']'}"


POSITIVE = Interval(0.0)
NON_NEGATIVE = Interval(0.0, low_open=False)
AT_LEAST_ONE = Interval(1, low_open=False)
RENDER_PIXELS = Interval(16, 4096, low_open=False)  # a camera image a video encoder takes

# Fields without a dedicated check in __post_init__: the interval each must lie in (finite).
# 0 is no size, mass, friction, force or rate: the sim would divide by it or run without physics.
FIELD_BOUNDS = {
    "control_hz": POSITIVE, "physics_hz": POSITIVE,
    "table_height_m": POSITIVE,
    "torso_m": Interval(0.0, TORSO_UP_M, low_open=False),  # torso_lift_joint's travel
    "block_size_m": POSITIVE, "block_mass_kg": POSITIVE,
    "block_friction": POSITIVE, "finger_friction": POSITIVE, "finger_force_n": POSITIVE,
    "spawn_bearing_rad": Interval(0.0, math.pi),
    "spawn_min_distance_m": POSITIVE,
    "horizon_base_steps": AT_LEAST_ONE, "horizon_per_stage_steps": AT_LEAST_ONE,
    "place_tolerance_xy_m": POSITIVE, "place_tolerance_z_m": POSITIVE,
    "settle_s": NON_NEGATIVE, "carry_ceiling_m": NON_NEGATIVE,
    "render_width": RENDER_PIXELS, "render_height": RENDER_PIXELS,
}
# (low, high) fields -> the least value low may take (None: any finite value)
PAIR_FIELDS = {"table_x_m": None, "table_y_m": None, "spawn_radius_m": 0.0}


def _check_bounds(config: WorldConfig) -> None:
    for name, interval in FIELD_BOUNDS.items():
        _check_in(name, getattr(config, name), interval)
    for name, least_low in PAIR_FIELDS.items():
        _check_pair(name, getattr(config, name), least_low)


def _check_in(name: str, value, interval: Interval) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value not in interval:
        raise ValueError(f"{name}={value!r}: use a finite value in {interval}")


def _check_pair(name: str, value, least_low: float | None) -> None:
    """A (low, high) range: two finite numbers, low < high (an empty range places nothing)."""
    numbers = (isinstance(value, (tuple, list)) and len(value) == 2
               and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       and math.isfinite(v) for v in value))
    bound = "" if least_low is None else f" and low >= {least_low:g}"
    if not (numbers and value[0] < value[1]
            and (least_low is None or value[0] >= least_low)):
        raise ValueError(f"{name}={list(value) if isinstance(value, tuple) else value!r}: use "
                         f"[low, high], two finite numbers with low < high{bound}")


def default_world_config() -> dict:
    """WorldConfig() as a JSON-able dict (what demonstration files store)."""
    return dataclasses.asdict(WorldConfig())


def with_defaults(world: dict) -> dict:
    """A stored world config with the fields added since it was written at their defaults
    (which reproduce the world it was made in), JSON-normalised: compare these, not raw dicts."""
    return json.loads(json.dumps({**default_world_config(), **world}, sort_keys=True))
