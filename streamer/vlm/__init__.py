"""The VLM stage: clips around events are sampled in the camera worker, queued on Redis, and answered by
Qwen2.5-VL in `streamer vlm-worker`; each answer becomes an `update` alert of the event."""
