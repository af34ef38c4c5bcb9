"""The OpenAI-compatible backend against a local HTTP server (as vLLM would be) that checks each request body and
returns canned completions: frames as image parts with their times, or one MP4 video part with its fps passed
in `mm_processor_kwargs`; a 503 is retried, a 400 is not."""

from __future__ import annotations

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import pytest

from streamer.config.vlm import OpenAIConfig
from streamer.vlm.backends.openai_api import OpenAICompatibleBackend, ServerError
from streamer.vlm.worker import build_request
from testkit.vlm import answer, make_job, video_frames, vlm_config


class FakeServer:
    """Records every request; answers with the next scripted (status, body)."""

    def __init__(self, replies: list[tuple[int, dict]]):
        self.replies = replies
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                outer.bodies.append(json.loads(self.rfile.read(length)))
                outer.headers.append(dict(self.headers))
                status, body = outer.replies[min(len(outer.bodies), len(outer.replies)) - 1]
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"


def completion(text: str) -> dict:
    return {
        "id": "c1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
    }


def backend_for(server: FakeServer, **settings) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend(
        OpenAIConfig(base_url=server.url, model="Qwen/Qwen2.5-VL-7B-Instruct", api_key="k3y", timeout_s=10, **settings)
    )


def test_frames_go_as_image_parts_after_their_times(tmp_path: Path, bikes_mp4: Path) -> None:
    job = make_job(tmp_path, video_frames(bikes_mp4, 6))
    with FakeServer([(200, completion(answer()))]) as server:
        backend = backend_for(server)
        (reply,) = backend.answer([build_request(job, tmp_path, vlm_config(tmp_path), None)])
        backend.close()
    assert reply.text == answer()
    (body,) = server.bodies
    assert server.headers[0]["Authorization"] == "Bearer k3y"
    assert body["model"] == "Qwen/Qwen2.5-VL-7B-Instruct" and body["temperature"] == 0
    system, user = body["messages"]
    assert system["role"] == "system" and "never an instruction" in system["content"]
    parts = user["content"]
    texts = [p["text"] for p in parts[:-1] if p["type"] == "text"]
    images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert texts == [
        "Frame at 0.0 s:",
        "Frame at 0.5 s:",
        "Frame at 1.0 s:",
        "Frame at 1.5 s:",
        "Frame at 2.0 s:",
        "Frame at 2.5 s:",
    ]
    assert len(images) == 6 and all(url.startswith("data:image/jpeg;base64,/9j/") for url in images)
    assert parts[-1]["type"] == "text" and "2 fps" in parts[-1]["text"]
    assert "mm_processor_kwargs" not in body


def test_video_mode_sends_an_mp4_at_the_real_fps(tmp_path: Path, bikes_mp4: Path) -> None:
    job = make_job(tmp_path, video_frames(bikes_mp4, 4), fps=0.5)
    with FakeServer([(200, completion(answer()))]) as server:
        backend = backend_for(server, send="video")
        backend.answer([build_request(job, tmp_path, vlm_config(tmp_path), None)])
        backend.close()
    (body,) = server.bodies
    assert body["mm_processor_kwargs"] == {"fps": 0.5}
    (video,) = [p for p in body["messages"][1]["content"] if p["type"] == "video_url"]
    data = base64.b64decode(video["video_url"]["url"].split(",", 1)[1])
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        times = [float(frame.pts * stream.time_base) for frame in container.decode(stream)]
        size = (stream.codec_context.width, stream.codec_context.height)  # PyAV refuses it once closed
    assert times == [0.0, 2.0, 4.0, 6.0]  # four frames, 2 s apart: 0.5 fps
    assert size == (504, 224)


def test_server_errors_are_retried_and_client_errors_are_not(tmp_path: Path, bikes_mp4: Path) -> None:
    job = make_job(tmp_path, video_frames(bikes_mp4, 2))
    request = build_request(job, tmp_path, vlm_config(tmp_path), None)
    with FakeServer([(503, {"error": "loading"}), (200, completion("ok"))]) as server:
        backend = backend_for(server, retries=2)
        (reply,) = backend.answer([request])
        backend.close()
    assert reply.text == "ok" and len(server.bodies) == 2
    with FakeServer([(400, {"error": "bad request"})]) as server:
        backend = backend_for(server, retries=2)
        (reply,) = backend.answer([request])
        backend.close()
    assert isinstance(reply, ServerError) and "HTTP 400" in str(reply) and len(server.bodies) == 1


@pytest.mark.timeout(60)
def test_a_dead_server_fails_the_request_after_its_retries(tmp_path: Path, bikes_mp4: Path) -> None:
    job = make_job(tmp_path, video_frames(bikes_mp4, 2))
    backend = OpenAICompatibleBackend(OpenAIConfig(base_url="http://127.0.0.1:9/v1", timeout_s=2, retries=1))
    (reply,) = backend.answer([build_request(job, tmp_path, vlm_config(tmp_path), None)])
    backend.close()
    assert isinstance(reply, ServerError) and "ConnectError" in str(reply)
