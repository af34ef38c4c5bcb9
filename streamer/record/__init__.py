"""Recordings: the camera's own packets remuxed into MP4 segments, indexed, exported, and aged out."""
