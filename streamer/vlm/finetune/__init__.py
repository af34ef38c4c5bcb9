"""`streamer vlm finetune`: LoRA on Qwen2.5-VL's language model from the reviewed events that `streamer dataset
export` writes, the vision tower frozen, measured on a held-out split before and after (docs/vlm.md)."""
