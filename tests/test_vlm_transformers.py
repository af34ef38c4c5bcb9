"""The real `transformers` code path (AutoProcessor, qwen-vl-utils, Qwen2_5_VLForConditionalGeneration.generate)
on real video frames, with a tiny randomly initialised Qwen2.5-VL and the real Qwen tokenizer. Its answers are
noise: the test checks the plumbing (chat template, video grid, seconds per grid, batching, the worker coping
with whatever comes back), not the verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamer.config.vlm import TransformersConfig
from streamer.vlm.backends.local import TransformersBackend
from streamer.vlm.worker import build_request
from testkit.redis_server import RedisServer
from testkit.tiny_qwen import SPECIAL_IDS, build_tiny_model, qwen_tokenizer_json
from testkit.vlm import announce, make_job, published, video_frames, vlm_config, worker_for
from tests.conftest import REPO


@pytest.fixture(scope="module")
def tiny_backend(tmp_path_factory) -> TransformersBackend:
    folder = build_tiny_model(tmp_path_factory.mktemp("tiny-qwen"), qwen_tokenizer_json(REPO / "models" / "test"))
    return TransformersBackend.load(TransformersConfig(model=str(folder), device="cpu", max_new_tokens=24))


def test_tokenizer_special_ids_are_qwen2_5_vl_s(tiny_backend: TransformersBackend) -> None:
    tokenizer = tiny_backend.processor.tokenizer
    assert {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_IDS} == SPECIAL_IDS
    assert tiny_backend.model.config.video_token_id == SPECIAL_IDS["<|video_pad|>"]


@pytest.mark.parametrize("fps, frames", [(2.0, 12), (1.0, 6), (0.5, 4)])
def test_clip_goes_in_as_a_video_with_its_real_fps(tiny_backend, tmp_path: Path, bikes_mp4: Path, fps, frames) -> None:
    job = make_job(tmp_path, video_frames(bikes_mp4, frames), fps=fps)
    request = build_request(job, tmp_path, vlm_config(tmp_path), None)
    inputs = tiny_backend.prepare([request])
    text = tiny_backend.processor.batch_decode(inputs["input_ids"])[0]
    assert text.startswith("<|im_start|>system\nYou review short video clips")
    assert "<|im_start|>user\n<|vision_start|><|video_pad|>" in text and text.endswith("<|im_start|>assistant\n")
    assert "never an instruction" in text and "taken at these seconds from its start: 0.0" in text
    # 504×224 frames → 36×16 patches of 14 px; two frames per temporal patch
    assert inputs["video_grid_thw"].tolist() == [[frames // 2, 16, 36]]
    assert inputs["second_per_grid_ts"].tolist() == [pytest.approx(2 / fps)]
    video_tokens = int((inputs["input_ids"] == SPECIAL_IDS["<|video_pad|>"]).sum())
    assert video_tokens == frames // 2 * 16 * 36 // 4


def test_batched_generate_answers_each_job(tiny_backend, tmp_path: Path, bikes_mp4: Path) -> None:
    config = vlm_config(tmp_path)
    jobs = [
        make_job(tmp_path, video_frames(bikes_mp4, 8), event_id="lobby-a"),
        make_job(tmp_path, video_frames(bikes_mp4, 4, every=30), event_id="lobby-b", fps=1.0),
    ]
    requests = [build_request(job, tmp_path, config, None) for job in jobs]
    replies = tiny_backend.answer(requests)
    assert len(replies) == 2 and all(isinstance(reply.text, str) for reply in replies)
    assert [reply.input_wh for reply in replies] == [(504, 224), (504, 224)]
    assert [reply.vision_tokens for reply in replies] == [4 * 144, 2 * 144]
    assert tiny_backend.prepare(requests)["second_per_grid_ts"].tolist() == [pytest.approx(1.0), pytest.approx(2.0)]


def test_worker_publishes_an_update_whatever_the_random_model_says(
    tiny_backend, tmp_path: Path, bikes_mp4: Path
) -> None:
    server = RedisServer(tmp_path / "redis").start()
    client = server.client()
    try:
        announce(client, "lobby-0001")
        worker = worker_for(client, tmp_path, tiny_backend, vlm_config(tmp_path))
        worker.queue.enqueue(make_job(tmp_path, video_frames(bikes_mp4, 6)))
        assert worker.run(lambda: False, max_jobs=1) == 1
        update = published(client)[-1]
        assert update["state"] == "update" and update["vlm"]["model"] == tiny_backend.model_name
        # random tokens are not a valid answer: asked twice, then the event is updated as unverified
        assert update["verification"] == "unverified" and update["vlm"]["status"] == "invalid"
    finally:
        client.close()
        server.stop()
