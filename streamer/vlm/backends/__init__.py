"""The VLM backends behind one small interface: given requests (frames with their times, a prompt), return the
model's raw text for each. `transformers` runs Qwen2.5-VL in-process, `openai` calls a server (vLLM, SGLang,
DashScope), `scripted` is a test double that replays canned answers."""

from __future__ import annotations

from streamer.config.vlm import BackendKind, VlmConfig
from streamer.vlm.backends.contract import VlmBackend, VlmReply, VlmRequest

__all__ = ["VlmBackend", "VlmReply", "VlmRequest", "build_backend"]


def build_backend(config: VlmConfig) -> VlmBackend:
    if config.backend is BackendKind.SCRIPTED:
        from streamer.vlm.backends.scripted import ScriptedTestDouble

        return ScriptedTestDouble.from_file(config.scripted.responses)
    if config.backend is BackendKind.OPENAI:
        from streamer.vlm.backends.openai_api import OpenAICompatibleBackend

        return OpenAICompatibleBackend(config.openai)
    from streamer.vlm.backends.local import TransformersBackend

    return TransformersBackend.load(config.transformers)
