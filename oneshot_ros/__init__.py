"""oneshot_ros: One-Shot Imitation Learning (Duan et al., NIPS 2017) for ROS 2 robot arms."""

__version__ = "0.1.0"
