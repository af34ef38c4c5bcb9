"""The held-out clips asked as the VLM stage asks (its prompt, its parser, one retry when refused) and scored as the
stage's own evaluation scores clip sets (streamer/vlm/scores.py): the reviewed verdict is the truth, the reviewed
answer's times the true times."""

from __future__ import annotations

from streamer.config.vlm import SamplingConfig
from streamer.vlm.backends import VlmBackend
from streamer.vlm.evaluation import ask, clip_outcome
from streamer.vlm.finding import wall_time
from streamer.vlm.finetune.examples import request_for
from streamer.vlm.finetune.export import ReviewedClip
from streamer.vlm.scores import ClipOutcome, score


def evaluate_held_out(backend: VlmBackend, clips: list[ReviewedClip], sampling: SamplingConfig) -> dict:
    outcomes = [_outcome(clip, backend, sampling) for clip in clips]
    report = score(outcomes)
    report["answers"] = {o.clip: o.verdict for o in outcomes}
    return report


def _outcome(clip: ReviewedClip, backend: VlmBackend, sampling: SamplingConfig) -> ClipOutcome:
    asked = ask(backend, request_for(clip, sampling), clip.duration_s)
    happens = clip.verdict == "confirmed"
    verdict, start_error, end_error = "refused", None, None
    if asked.answer is not None:
        verdict = asked.answer.verdict
        if happens and verdict == "confirmed":
            said, truth = asked.answer.events[0], clip.answer.events[0]
            start_error = round(abs(wall_time(clip.frame_times, clip.fps, said.start_time) - truth.start_time), 3)
            end_error = round(abs(wall_time(clip.frame_times, clip.fps, said.end_time) - truth.end_time), 3)
    return clip_outcome(clip.clip_id, clip.event_type, happens, verdict, asked, start_error, end_error)
