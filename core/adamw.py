"""AdamW, the update of torch.optim.AdamW (decoupled weight decay, bias-corrected moments),
computed the same way op for op.

Ours because torch.optim's optimizers import torch._dynamo when they are built and stepped
(about 1 s and hundreds of modules, sympy among them): in the app that import ran in the
training worker as a run started, and its import machinery held Python's lock long enough to
stall the window for 100-170 ms. The state keeps torch's names (`step`, `exp_avg`,
`exp_avg_sq`), so checkpoints written with torch.optim.AdamW resume here.
"""

from __future__ import annotations

from collections import defaultdict

import torch


class AdamW:
    def __init__(
        self, groups: list[dict], lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ):
        """`groups`: [{"params": [...], "weight_decay": wd}, ...], as torch.optim's; torch's
        defaults. Without weight decay it is torch.optim.Adam."""
        self.param_groups = [
            {
                "lr": lr,
                "betas": betas,
                "eps": eps,
                "weight_decay": 0.0,
                **group,
                "params": list(group["params"]),
            }
            for group in groups
        ]
        self.state: defaultdict[torch.Tensor, dict] = defaultdict(dict)  # as torch's: restorable

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0.0  # a number on the host: no read back from a device
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                grad, exp_avg, exp_avg_sq = p.grad, state["exp_avg"], state["exp_avg_sq"]
                state["step"] = step = float(state["step"]) + 1
                if wd != 0:
                    p.mul_(1 - lr * wd)
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                bias_correction1 = 1 - beta1**step
                bias_correction2_sqrt = (1 - beta2**step) ** 0.5
                denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
                p.addcdiv_(exp_avg, denom, value=-lr / bias_correction1)
