"""streamer: real-time video stream analytics (YOLO + ByteTrack → events → VLM → alerts)."""

__version__ = "0.1.0"
