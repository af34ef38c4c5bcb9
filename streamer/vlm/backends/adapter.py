"""A LoRA adapter checked against the base model before it is applied: every adapted module must exist in the base
with the shapes the adapter was trained on; otherwise one error names the first that does not fit (a 7B adapter on
a 3B base, an adapter of another architecture), instead of peft's state-dict dump or a silent partial load."""

from __future__ import annotations

import json
from pathlib import Path

CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"
PEFT_PREFIX = "base_model.model."


class AdapterError(ValueError):
    pass


def check_fits(model, folder: Path) -> int:
    """The number of adapted modules; AdapterError when the folder is not an adapter or does not fit `model`."""
    from safetensors import safe_open

    if not (folder / CONFIG).is_file() or not (folder / WEIGHTS).is_file():
        raise AdapterError(
            f"{folder}: not a LoRA adapter folder (it needs {CONFIG} and {WEIGHTS}, as `streamer vlm "
            "finetune` and peft write them)"
        )
    settings = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    if settings.get("peft_type", "LORA") != "LORA":
        raise AdapterError(f"{folder}: a {settings.get('peft_type')} adapter; only LoRA is supported")
    modules = dict(model.named_modules())
    adapted = set()
    with safe_open(str(folder / WEIGHTS), framework="pt") as weights:
        for key in weights.keys():
            name, part = _module_and_part(key)
            if part is None:
                continue
            module = modules.get(name)
            shape = tuple(weights.get_slice(key).get_shape())
            if module is None or not hasattr(module, "in_features"):
                raise AdapterError(
                    f"{folder} does not fit the base model: it adapts {name}, which the base has not "
                    "(an adapter trained on another architecture)"
                )
            wanted = module.in_features if part == "lora_A" else module.out_features
            got = shape[1] if part == "lora_A" else shape[0]
            if wanted != got:
                raise AdapterError(
                    f"{folder} does not fit the base model: {name} is {module.in_features}→"
                    f"{module.out_features} in the base, the adapter was trained on "
                    f"{'input' if part == 'lora_A' else 'output'} {got} (another model size)"
                )
            adapted.add(name)
    if not adapted:
        raise AdapterError(f"{folder}: its {WEIGHTS} holds no LoRA weights")
    return len(adapted)


def _module_and_part(key: str) -> tuple[str, str | None]:
    name = key.removeprefix(PEFT_PREFIX)
    for part in ("lora_A", "lora_B"):
        marker = f".{part}."
        if marker in name:
            return name.split(marker)[0], part
    return name, None


def apply_adapter(model, folder: Path):
    """The base with the adapter merged into its weights: generation costs what the base costs."""
    from peft import PeftModel

    check_fits(model, folder)
    return PeftModel.from_pretrained(model, str(folder)).merge_and_unload()
