"""Qwen2.5-VL in-process with transformers: `Qwen2_5_VLForConditionalGeneration` + `AutoProcessor` +
`qwen_vl_utils.process_vision_info`. The clip goes in as a video (a list of frames) with its real sampling rate,
so `second_per_grid_ts` is 2 / fps and the model's temporal positions are seconds. Several jobs share one
`generate` call (left padding)."""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Sequence

from streamer.config.vlm import TransformersConfig
from streamer.vlm.backends.contract import VlmReply, VlmRequest

log = logging.getLogger("streamer.vlm")


def pick_device(setting: str) -> str:
    import torch

    if setting != "auto":
        return setting
    return "cuda" if torch.cuda.is_available() else "cpu"


def messages_for(request: VlmRequest) -> list[dict]:
    """The chat for one request. `sample_fps` is what qwen-vl-utils reads for a list of frames; without it
    every clip would be taken as 2 fps."""
    video = {
        "type": "video",
        "video": [f"file://{path}" for path in request.frames],
        "sample_fps": request.fps,
        "min_pixels": request.min_pixels,
        "max_pixels": request.max_pixels,
    }
    chat = [
        {"role": "system", "content": request.system},
        {"role": "user", "content": [video, {"type": "text", "text": request.prompt}]},
    ]
    for earlier, correction in request.history:
        chat += [{"role": "assistant", "content": earlier}, {"role": "user", "content": correction}]
    return chat


class TransformersBackend:
    def __init__(self, model, processor, max_new_tokens: int = 512, model_name: str = "qwen2.5-vl"):
        self.model = model
        self.processor = processor
        self.max_new_tokens = max_new_tokens
        self.model_name = model_name
        self.processor.tokenizer.padding_side = "left"  # batched generation appends after the prompt

    @classmethod
    def load(cls, config: TransformersConfig) -> "TransformersBackend":
        """bf16 and flash_attention_2 on CUDA when flash-attn is installed; fp32 on the CPU."""
        import torch
        from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

        device = pick_device(config.device)
        kwargs: dict = {"dtype": torch.float32}
        if device.startswith("cuda"):
            kwargs["dtype"] = torch.bfloat16
            has_flash = importlib.util.find_spec("flash_attn") is not None
            kwargs["attn_implementation"] = "flash_attention_2" if has_flash else "sdpa"
        started = time.monotonic()
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(config.model, **kwargs)
        if config.adapter is not None:
            from streamer.vlm.backends.adapter import apply_adapter

            model = apply_adapter(model, config.adapter)
        model = model.to(device).eval()
        processor = AutoProcessor.from_pretrained(config.model)
        log.info(
            "VLM loaded",
            extra={
                "fields": {
                    "model": config.model,
                    "device": device,
                    "dtype": str(kwargs["dtype"]),
                    "attention": kwargs.get("attn_implementation", "default"),
                    "adapter": str(config.adapter) if config.adapter else None,
                    "load_s": round(time.monotonic() - started, 1),
                }
            },
        )
        return cls(model, processor, config.max_new_tokens, config.model.rstrip("/").rsplit("/", 1)[-1])

    def prepare(self, requests: Sequence[VlmRequest]):
        """The processor's tensors for a batch of requests (what `generate` gets)."""
        from qwen_vl_utils import process_vision_info

        chats = [messages_for(r) for r in requests]
        texts = [self.processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) for chat in chats]
        images, videos, video_kwargs = process_vision_info(chats, return_video_kwargs=True, return_video_metadata=True)
        frames, metadata = (list(part) for part in zip(*videos)) if videos else (None, None)
        # qwen-vl-utils has already resized the frames to the request's pixel budget (sides multiples of 28); the
        # processor resizing again would apply its own budget instead (qwen-vl-utils' README passes this too)
        return self.processor(
            text=texts,
            images=images,
            videos=frames,
            video_metadata=metadata,
            padding=True,
            return_tensors="pt",
            do_resize=False,
            **video_kwargs,
        )

    def answer(self, requests: Sequence[VlmRequest]) -> list[VlmReply | Exception]:
        import torch

        inputs = self.prepare(requests).to(self.model.device)
        with torch.inference_mode():
            generated = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        new_tokens = generated[:, inputs["input_ids"].shape[1] :]
        texts = self.processor.batch_decode(new_tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        grids = inputs["video_grid_thw"].tolist()
        patch = self.processor.video_processor.patch_size
        merge = self.processor.video_processor.merge_size
        pad = self.processor.tokenizer.pad_token_id
        prompts = inputs["attention_mask"].sum(dim=1).tolist()
        answered = (new_tokens != pad).sum(dim=1) if pad is not None else [new_tokens.shape[1]] * len(texts)
        answered = [int(count) for count in answered]
        return [
            VlmReply(text, (w * patch, h * patch), t * h * w // (merge * merge), int(prompt), int(count))
            for text, (t, h, w), prompt, count in zip(texts, grids, prompts, answered)
        ]

    def close(self) -> None:
        self.model = None
