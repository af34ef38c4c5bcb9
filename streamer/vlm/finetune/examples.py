"""Reviewed clips as the model's input: the same request the VLM worker sends (system, prompt, the frames as a video
at their real rate, the pixel budget), through the same chat template and processor as the transformers backend,
with the reviewed answer appended and only its tokens learned."""

from __future__ import annotations

from dataclasses import dataclass

from streamer.config.vlm import SamplingConfig
from streamer.vlm.backends import VlmRequest
from streamer.vlm.backends.local import messages_for
from streamer.vlm.finetune.export import ReviewedClip

END_OF_TURN = "<|im_end|>"  # what ends an assistant turn in Qwen's chat template: learned, so the model stops


def request_for(clip: ReviewedClip, sampling: SamplingConfig) -> VlmRequest:
    return VlmRequest(
        clip.clip_id,
        clip.event_type,
        clip.system,
        clip.prompt,
        clip.frames,
        clip.frame_times,
        clip.fps,
        sampling.min_pixels,
        sampling.max_pixels,
    )


@dataclass(frozen=True)
class TrainingExample:
    clip_id: str
    inputs: dict  # the processor's tensors for prompt + answer (batch of one)
    answer_tokens: int  # the last this many tokens are the answer: the only ones the loss counts


def training_example(processor, clip: ReviewedClip, sampling: SamplingConfig) -> TrainingExample:
    from qwen_vl_utils import process_vision_info

    chat = messages_for(request_for(clip, sampling))
    prompt = processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    _, videos, video_kwargs = process_vision_info([chat], return_video_kwargs=True, return_video_metadata=True)
    frames, metadata = (list(part) for part in zip(*videos))
    answer_ids = processor.tokenizer(clip.answer_text + END_OF_TURN, add_special_tokens=False)["input_ids"]
    whole = processor(
        text=[prompt + clip.answer_text + END_OF_TURN],
        videos=frames,
        video_metadata=metadata,
        return_tensors="pt",
        do_resize=False,
        **video_kwargs,
    )  # as the backend: already resized
    ids = whole["input_ids"][0].tolist()
    if ids[-len(answer_ids) :] != answer_ids:  # the answer must tokenize alike alone and after the prompt
        raise ValueError(f"{clip.clip_id}: the answer's tokens differ after the prompt; cannot mask the prompt")
    return TrainingExample(clip.clip_id, dict(whole), len(answer_ids))
