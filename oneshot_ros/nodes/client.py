"""A small rclpy client for the ros-* commands, the tests and the benchmark.

    with RosClient(domain_id) as ros:
        ros.set_params("sim_driver", {"seed": 3})
        ok, message = ros.trigger("/sim_driver/reset")
        ok, message = ros.change_state("imitator", "configure")   # a lifecycle transition
        label = ros.get_state("imitator")                          # "inactive"
        states = ros.collect("/joint_states", JointState)   # list of (receive time s, msg)
        ros.spin_for(1.0)

It owns its own rclpy Context, so it never disturbs other rclpy users in the process.
"""

from __future__ import annotations

import time

import rclpy
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.srv import SetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from std_srvs.srv import SetBool, Trigger


class RosClient:
    def __init__(self, domain_id: int, name: str = "oneshot_client"):
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def call(self, service: str, srv_type, request, timeout_s: float = 10.0):
        client = self.node.create_client(srv_type, service)
        try:
            if not client.wait_for_service(timeout_sec=timeout_s):
                raise TimeoutError(f"service {service} not available after {timeout_s} s")
            future = client.call_async(request)
            self.executor.spin_until_future_complete(future, timeout_sec=timeout_s)
            if not future.done():
                raise TimeoutError(f"service {service} did not answer within {timeout_s} s")
            return future.result()
        finally:
            self.node.destroy_client(client)

    def trigger(self, service: str, timeout_s: float = 10.0) -> tuple[bool, str]:
        response = self.call(service, Trigger, Trigger.Request(), timeout_s)
        return response.success, response.message

    def set_bool(self, service: str, value: bool, timeout_s: float = 60.0) -> tuple[bool, str]:
        """A SetBool may run a lifecycle transition (the imitator's ~/activate configures: a
        model load), hence the longer default timeout."""
        response = self.call(service, SetBool, SetBool.Request(data=value), timeout_s)
        return response.success, response.message

    def change_state(self, node_name: str, transition: str,
                     timeout_s: float = 10.0) -> tuple[bool, str]:
        """Run a lifecycle transition ("configure", "activate", "deactivate", "cleanup",
        "shutdown") over /<node>/change_state. The standard service says only whether it
        succeeded; the message names the state the node is in afterwards (the node's log says
        why a transition failed). A configure answers after the node's load: give it time."""
        request = ChangeState.Request(transition=Transition(label=transition))
        response = self.call(f"/{node_name}/change_state", ChangeState, request, timeout_s)
        state = self.get_state(node_name, timeout_s)
        if response.success:
            return True, f"{transition}: {node_name} is {state}"
        return False, f"{transition} failed or is not available: {node_name} is {state}"

    def get_state(self, node_name: str, timeout_s: float = 10.0) -> str:
        """The lifecycle state's label ("unconfigured", "inactive", "active", "finalized")."""
        response = self.call(f"/{node_name}/get_state", GetState, GetState.Request(), timeout_s)
        return response.current_state.label

    def set_params(self, node_name: str, values: dict, timeout_s: float = 10.0) -> None:
        request = SetParameters.Request(
            parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()])
        response = self.call(f"/{node_name}/set_parameters", SetParameters, request, timeout_s)
        failed = [r.reason for r in response.results if not r.successful]
        if failed:
            raise ValueError(f"{node_name} refused parameters {values}: {failed}")

    def collect(self, topic: str, msg_type, depth: int = 100) -> list:
        """Subscribe; received (time.perf_counter(), msg) pairs are appended to the list."""
        received: list = []
        self.node.create_subscription(
            msg_type, topic, lambda msg: received.append((time.perf_counter(), msg)), depth)
        return received

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=min(0.05, max(end - time.monotonic(), 0)))

    def wait_for(self, predicate, timeout_s: float, what: str) -> None:
        """Spin until predicate() is true; TimeoutError naming `what` otherwise."""
        end = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > end:
                raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
            self.executor.spin_once(timeout_sec=0.05)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)

    def __enter__(self) -> RosClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
