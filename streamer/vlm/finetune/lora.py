"""LoRA on Qwen2.5-VL's language model with peft and transformers' Trainer: the vision tower and the merger stay
as they are (no adapter reaches them, and peft freezes every base weight), one clip a step, and the loss counts
only the answer's tokens (the logits of the prompt, 150k wide each, are never computed)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from streamer.vlm.finetune.examples import TrainingExample

log = logging.getLogger("streamer.vlm.finetune")

# The language model's attention and MLP projections; the vision tower has modules of the same names (its MLP),
# so the pattern names the language model's path (transformers 5: model.language_model.layers.N…)
LANGUAGE_PROJECTIONS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"


@dataclass(frozen=True)
class LoraSettings:
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    epochs: float = 3.0
    learning_rate: float = 1e-4
    gradient_accumulation: int = 1
    seed: int = 0


@dataclass(frozen=True)
class TrainingRun:
    steps: int
    wall_s: float
    cpu_s: float  # this process's CPU time in training, all threads
    first_loss: float | None
    last_loss: float | None


def with_lora(model, settings: LoraSettings):
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=LANGUAGE_PROJECTIONS,
        task_type="CAUSAL_LM",
    )
    tuned = get_peft_model(model, config)
    learning = [name for name, parameter in tuned.named_parameters() if parameter.requires_grad]
    if not learning or any(".visual." in name for name in learning):
        raise RuntimeError("LoRA must train the language model's projections only, the vision tower frozen")
    return tuned


def train(tuned, examples: list[TrainingExample], settings: LoraSettings, scratch: str) -> TrainingRun:
    import torch
    from transformers import TrainerCallback, TrainingArguments

    losses: list[float] = []

    class _Losses(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    arguments = TrainingArguments(
        output_dir=scratch,
        per_device_train_batch_size=1,
        gradient_accumulation_steps=settings.gradient_accumulation,
        num_train_epochs=settings.epochs,
        learning_rate=settings.learning_rate,
        lr_scheduler_type="constant",
        logging_steps=max(1, len(examples) // 4),
        save_strategy="no",
        report_to=[],
        seed=settings.seed,
        remove_unused_columns=False,
        bf16=torch.cuda.is_available(),
        disable_tqdm=True,
        dataloader_pin_memory=False,
    )
    trainer = _trainer_class()(
        model=tuned, args=arguments, train_dataset=_Examples(examples), data_collator=_one_clip, callbacks=[_Losses()]
    )
    wall, cpu = time.monotonic(), time.process_time()
    result = trainer.train()
    run = TrainingRun(
        result.global_step,
        round(time.monotonic() - wall, 1),
        round(time.process_time() - cpu, 1),
        losses[0] if losses else None,
        losses[-1] if losses else None,
    )
    log.info("LoRA trained", extra={"fields": {"steps": run.steps, "wall_s": run.wall_s, "loss": run.last_loss}})
    return run


class _Examples:
    """A map-style dataset the Trainer samples from (in a shuffled order each epoch)."""

    def __init__(self, examples: list[TrainingExample]):
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict:
        example = self.examples[index]
        return {**example.inputs, "answer_tokens": example.answer_tokens}


def _one_clip(batch: list[dict]) -> dict:
    # one clip a step: clips differ in length and frame count; gradient_accumulation makes larger batches
    (only,) = batch
    return only


def _answer_loss(model, inputs: dict):
    import torch

    inputs = dict(inputs)
    answer = int(inputs.pop("answer_tokens"))
    # the logits of the answer's tokens only, each predicted from the position before it
    logits = model(**inputs, logits_to_keep=answer + 1).logits[0, :-1]
    return torch.nn.functional.cross_entropy(logits.float(), inputs["input_ids"][0, -answer:])


def _trainer_class():
    from transformers import Trainer

    class AnswerOnlyTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = _answer_loss(model, inputs)
            return (loss, None) if return_outputs else loss

    return AnswerOnlyTrainer
