"""Node parameters that carry their valid range, refused when wrong at start-up and at runtime.

    rate = declare(node, "time_scale", 1.0, "sim s per wall s", low=0.01, high=100.0)
    task = declare(node, "task", "ab cd", "task string", check=task_problem, dynamic=True)

Every numeric parameter declares [low, high] in its descriptor (`ros2 param describe` shows it);
rclpy refuses values outside it, NaN included, both as overrides at start-up and in a later
`ros2 param set`. A `check` (a parse, a file that must load) runs at both times too. Parameters
a node reads once are read-only: a runtime set fails instead of being accepted and ignored;
`dynamic=True` marks the ones a node reads again (each says when in its description).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException

INT_MAX = 2**31 - 1  # indices (demo_index)
SEED_MAX = 2**63 - 1  # seeds: any ROS integer >= 0 (eval draws 32-bit ones, > INT_MAX)

Check = Callable[[object], "str | None"]  # value -> why it is refused (None: accepted)


class ParameterError(ValueError):
    """A parameter value a node refuses; the text names the parameter, the value and the fix."""


def declare(node, name: str, default, description: str, *, low=None, high=None,
            check: Check | None = None, dynamic: bool = False):
    """Declare `name` with its range (numbers need low and high) and return its value."""
    descriptor = ParameterDescriptor(description=description, read_only=not dynamic)
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        if low is not None or high is not None:
            raise TypeError(f"{name}: a range needs a numeric default, got {default!r}")
    elif low is None or high is None:
        raise TypeError(f"{name}: numeric parameters declare their range (low, high)")
    elif isinstance(default, int):
        descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high))]
    else:
        descriptor.floating_point_range = [FloatingPointRange(from_value=float(low),
                                                              to_value=float(high))]
    if check is not None:
        _checks(node)[name] = check
    try:
        node.declare_parameter(name, default, descriptor)
    except InvalidParameterValueException as err:
        raise ParameterError(_refusal(name, err, low, high)) from None
    except InvalidParameterTypeException as err:
        text = str(err).rsplit(f": {name}", 1)[0]
        raise ParameterError(f"parameter {name}: {text} (write {default!r}-like values)") \
            from None
    return node.get_parameter(name).value


def _refusal(name: str, err: InvalidParameterValueException, low, high) -> str:
    """One line: the parameter, the value given and what to use instead."""
    text = str(err)
    value = re.match(r"Invalid parameter value \((.*)\) for parameter", text)
    given = f"{name}={value.group(1)}" if value else name
    if "out of range" in text:
        return f"parameter {given} is out of range: use {low} .. {high}"
    reason = text.split("Reason: ", 1)[-1].rsplit(f": {name}", 1)[0]
    return f"parameter {given}: {reason}"


def _checks(node) -> dict[str, Check]:
    """The node's value checks, run by one on-set callback (at declare and at runtime)."""
    checks = getattr(node, "_oneshot_parameter_checks", None)
    if checks is None:
        checks = {}
        node._oneshot_parameter_checks = checks
        node.add_on_set_parameters_callback(lambda params: _run_checks(checks, params))
    return checks


def _run_checks(checks: dict[str, Check], parameters) -> SetParametersResult:
    for parameter in parameters:
        check = checks.get(parameter.name)
        reason = check(parameter.value) if check is not None else None
        if reason:
            return SetParametersResult(successful=False, reason=reason)
    return SetParametersResult(successful=True)
