"""The inference engine: the detectors of every camera on a host, loaded once per device, batched across cameras.

Camera workers letterbox their sampled frames into shared-memory slots and send a small request over a Unix
socket; the engine gathers ready frames round-robin up to `max_batch` or `max_wait_ms`, runs each model once for
the batch and answers each camera with boxes in its own source pixels. See docs/engine.md.
"""
