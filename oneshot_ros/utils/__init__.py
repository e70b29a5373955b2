"""Utilities every layer may use: a worker pool and the MP4/GIF writer."""
