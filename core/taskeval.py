"""Tasks as tensors, and the two-token loss the paper judges circuits by."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .data.tokenizer import Tokenizer
from .tasks import Example, Task


@dataclass
class TaskBatch:
    input_ids: torch.Tensor  # [N, T], right-padded with token 0
    last_pos: torch.Tensor  # [N]: index of each prompt's last token
    correct: torch.Tensor  # [N] token ids
    incorrect: torch.Tensor  # [N]
    examples: list[Example]
    rejected: list[tuple[Example, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.examples)

    def to(self, device) -> "TaskBatch":
        return TaskBatch(
            self.input_ids.to(device),
            self.last_pos.to(device),
            self.correct.to(device),
            self.incorrect.to(device),
            self.examples,
            self.rejected,
        )

    def by_length(self, groups: int) -> list["TaskBatch"]:
        """The examples in up to `groups` batches of similar prompt length, each cut to its
        longest prompt: the padding after a prompt's last token changes nothing it reads (the
        model is causal), so it need not be computed."""
        order = torch.argsort(self.last_pos, stable=True)
        out = []
        for rows in torch.tensor_split(order, min(groups, len(self))):
            width = int(self.last_pos[rows].max()) + 1
            out.append(
                TaskBatch(
                    self.input_ids[rows, :width],
                    self.last_pos[rows],
                    self.correct[rows],
                    self.incorrect[rows],
                    [self.examples[i] for i in rows.tolist()],
                )
            )
        return out


def check_example(example: Example, tokenizer: Tokenizer, block_size: int):
    """(prompt ids, correct id, incorrect id), or a reason the pair cannot be judged."""
    prompt = tokenizer.encode(example.prompt)
    ids = []
    for candidate in (example.correct, example.incorrect):
        token = tokenizer.token_id(candidate)
        if token is None:
            return f"candidate {candidate!r} is not a single token"
        if tokenizer.encode(example.prompt + candidate) != prompt + [token]:
            return f"candidate {candidate!r} merges with the end of the prompt"
        ids.append(token)
    if ids[0] == ids[1]:
        return "the two candidates are the same token"
    if not prompt:
        return "empty prompt"
    if len(prompt) > block_size:
        return f"prompt has {len(prompt)} tokens, more than the model's {block_size}"
    return prompt, ids[0], ids[1]


def encode_examples(examples: list[Example], tokenizer: Tokenizer, block_size: int) -> TaskBatch:
    kept, rejected, rows = [], [], []
    for example in examples:
        result = check_example(example, tokenizer, block_size)
        if isinstance(result, str):
            rejected.append((example, result))
        else:
            kept.append(example)
            rows.append(result)
    if not rows:
        reasons = "; ".join(sorted({r for _, r in rejected}))[:300]
        raise ValueError(f"no usable examples ({len(rejected)} rejected: {reasons})")
    width = max(len(p) for p, _, _ in rows)
    input_ids = torch.zeros(len(rows), width, dtype=torch.long)
    for i, (prompt, _, _) in enumerate(rows):
        input_ids[i, : len(prompt)] = torch.tensor(prompt)
    return TaskBatch(
        input_ids,
        torch.tensor([len(p) - 1 for p, _, _ in rows]),
        torch.tensor([c for _, c, _ in rows]),
        torch.tensor([w for _, _, w in rows]),
        kept,
        rejected,
    )


def task_batch(
    task: Task, tokenizer: Tokenizer, block_size: int, n: int = 256, split: str = "train", seed: int = 0
) -> TaskBatch:
    return encode_examples(task.examples(n, split, seed), tokenizer, block_size)


def candidate_logits(model, batch: TaskBatch) -> torch.Tensor:
    """[N, 2]: the correct and incorrect candidates' logits at each prompt's last position (the
    model unembeds that position alone), under whatever hooks the caller installed."""
    last = model(batch.input_ids, last=batch.last_pos)
    rows = torch.arange(len(batch), device=last.device)
    return torch.stack([last[rows, batch.correct], last[rows, batch.incorrect]], dim=1)


def two_token_loss(pair_logits: torch.Tensor, reduce: bool = True) -> torch.Tensor:
    """Cross-entropy over only the two candidates: softplus(incorrect - correct)."""
    loss = F.softplus(pair_logits[:, 1] - pair_logits[:, 0])
    return loss.mean() if reduce else loss


def calibrated(pair_logits: torch.Tensor, calibration: dict | None) -> torch.Tensor:
    """The paper's optional scale-and-shift of the logit difference (fit while pruning):
    [N, 2] logits whose softplus loss is that of scale * (correct - incorrect) + shift."""
    if not calibration:
        return pair_logits
    diff = calibration["scale"] * (pair_logits[:, 0] - pair_logits[:, 1]) + calibration["shift"]
    return torch.stack([diff, torch.zeros_like(diff)], dim=1)


@torch.no_grad()
def evaluate(model, batch: TaskBatch, calibration: dict | None = None) -> dict:
    """{"task_loss", "accuracy", "logit_diff"} of the model (under whatever ablation the caller
    has applied, with the circuit's calibration if it has one) on the batch."""
    pair = calibrated(candidate_logits(model, batch).float(), calibration)
    return {
        "task_loss": float(two_token_loss(pair)),
        "accuracy": float((pair[:, 0] > pair[:, 1]).float().mean()),
        "logit_diff": float((pair[:, 0] - pair[:, 1]).mean()),
        "n_examples": len(batch),
    }


@torch.no_grad()
def per_example(model, batch: TaskBatch, calibration: dict | None = None) -> dict[str, list[float]]:
    """`evaluate`, example by example: {"task_loss": [N], "logit_diff": [N]}."""
    pair = calibrated(candidate_logits(model, batch).float(), calibration)
    return {
        "task_loss": two_token_loss(pair, reduce=False).tolist(),
        "logit_diff": (pair[:, 0] - pair[:, 1]).tolist(),
    }
