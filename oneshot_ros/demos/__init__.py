"""Producing episodes: the scripted demonstrator, the one episode loop, policy rollouts,
parallel collection, replay, recording to disk and human-style (teleop-paced) demonstrations.
"""
