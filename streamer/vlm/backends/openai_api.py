"""Any OpenAI-compatible chat server (vLLM, SGLang, DashScope) serving Qwen2.5-VL.

`send: images` gives one image part per frame, each after a text part with its time; `send: video` gives one
MP4 part encoded at the clip's real fps, and passes that fps in `mm_processor_kwargs` (vLLM reads it there, so
the model's time positions stay in seconds). Timeouts, retries with backoff on 429/5xx and connection errors,
and at most `concurrency` requests in flight.
"""

from __future__ import annotations

import base64
import io
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import httpx

from streamer.config.vlm import OpenAIConfig
from streamer.core.backoff import Backoff
from streamer.vlm.backends.contract import VlmReply, VlmRequest

log = logging.getLogger("streamer.vlm")
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class ServerError(RuntimeError):
    pass


def _data_url(kind: str, payload: bytes) -> str:
    return f"data:{kind};base64,{base64.b64encode(payload).decode()}"


def encode_mp4(frames, fps: float) -> bytes:
    """The clip as H.264 MP4 at its sampling rate (fps may be below 1: the time base says so exactly)."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        rate = Fraction(fps).limit_denominator(1000)
        stream = container.add_stream("libx264", rate=rate)
        stream.time_base = 1 / rate
        stream.pix_fmt = "yuv420p"
        for index, path in enumerate(frames):
            frame = av.VideoFrame.from_image(_open_image(path))
            if index == 0:
                stream.width, stream.height = frame.width - frame.width % 2, frame.height - frame.height % 2
            frame.pts = index
            container.mux(stream.encode(frame.reformat(stream.width, stream.height, "yuv420p")))
        container.mux(stream.encode())
    return buffer.getvalue()


def _open_image(path):
    from PIL import Image

    with Image.open(path) as image:
        return image.convert("RGB")


class OpenAICompatibleBackend:
    def __init__(self, config: OpenAIConfig, transport: httpx.BaseTransport | None = None):
        self.config = config
        self.model_name = config.model
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self.client = httpx.Client(
            base_url=config.base_url.rstrip("/") + "/", timeout=config.timeout_s, headers=headers, transport=transport
        )
        self.pool = ThreadPoolExecutor(config.concurrency, thread_name_prefix="vlm-http")

    def body(self, request: VlmRequest) -> dict:
        content: list[dict] = []
        if self.config.send == "video":
            content.append(
                {
                    "type": "video_url",
                    "video_url": {"url": _data_url("video/mp4", encode_mp4(request.frames, request.fps))},
                }
            )
        else:
            for path, at in zip(request.frames, request.frame_times):
                content.append({"type": "text", "text": f"Frame at {at:.1f} s:"})
                content.append({"type": "image_url", "image_url": {"url": _data_url("image/jpeg", path.read_bytes())}})
        content.append({"type": "text", "text": request.prompt})
        messages = [{"role": "system", "content": request.system}, {"role": "user", "content": content}]
        for earlier, correction in request.history:
            messages += [{"role": "assistant", "content": earlier}, {"role": "user", "content": correction}]
        body = {
            "model": self.config.model,
            "messages": messages,
            "max_tokens": self.config.max_tokens,
            "temperature": 0,
        }
        if self.config.send == "video":
            body["mm_processor_kwargs"] = {"fps": request.fps}
        return body

    def answer(self, requests: Sequence[VlmRequest]) -> list[VlmReply | Exception]:
        return list(self.pool.map(self._one, requests))

    def _one(self, request: VlmRequest) -> VlmReply | Exception:
        body = self.body(request)
        backoff = Backoff(1.0, 30.0)
        for attempt in range(self.config.retries + 1):
            try:
                response = self.client.post("chat/completions", json=body)
            except httpx.HTTPError as error:
                problem: Exception = ServerError(f"{type(error).__name__}: {error}")
            else:
                if response.status_code == 200:
                    return self._reply(response, request)
                problem = ServerError(f"HTTP {response.status_code}: {response.text[:300]}")
                if response.status_code not in RETRY_STATUS:
                    return problem
            if attempt < self.config.retries:
                delay = backoff.next_delay()
                log.warning(
                    "VLM server request failed; retrying",
                    extra={"fields": {"job": request.job_id, "error": str(problem), "retry_in_s": round(delay, 2)}},
                )
                time.sleep(delay)
        return problem

    def _reply(self, response: httpx.Response, request: VlmRequest) -> VlmReply | Exception:
        try:
            data = response.json()
            text = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return ServerError(f"not a chat completion: {response.text[:300]}")
        if not isinstance(text, str):
            return ServerError("the completion has no text content")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return VlmReply(text, None, None, _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")))

    def close(self) -> None:
        self.pool.shutdown(wait=False)
        self.client.close()


def _count(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
