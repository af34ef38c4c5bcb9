"""Tracking (ByteTrack, one per camera) and finding model weights; detection itself is the engine's
(streamer.engine)."""
