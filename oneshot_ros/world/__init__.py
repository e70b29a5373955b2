"""The world's rules, shared by the simulator and the real arm: the robot's layout and limits,
task strings, kinematics, world settings, start layouts, the success check, actions -> joints.
"""
