"""A result handed on as code: the model, prompt, interventions and readout the app shows, as a
short script on the core API that prints the same numbers when run with the project's Python."""

from __future__ import annotations

from .interventions import Intervention

TEMPLATE = '''\
"""{title}"""

from core.interventions import Intervention
from core.outputs import predict
from core.workbench import Workbench

bench = Workbench({model!r})
prompt = {prompt!r}
candidates = {candidates!r}  # (correct, incorrect) continuation, or None
position = {position}  # the token read out
interventions = [
{interventions}]
{source_line}
ids = bench.tokenizer.encode(prompt)[-bench.model.config.block_size :]
model, tokenizer = bench.model, bench.tokenizer
before = predict(model, tokenizer, ids, (), None, candidates, position)
after = predict(model, tokenizer, ids, interventions, bench.means, candidates, position, source=source)
print("token", position, repr(tokenizer.decode(ids[position : position + 1])))
for name, p in (("model", before), ("with interventions", after)):
    top = ", ".join(f"{{text!r}} {{prob:.3f}}" for _, text, prob in p.top[:5])
    print(f"{{name}}: top {{top}}")
    if p.logit_diff is not None:
        versus = f"{{candidates[0]!r}} minus {{candidates[1]!r}}"
        print(f"{{name}}: logit difference {{p.logit_diff:+.6f}} ({{versus}})")
'''


def python_script(
    model: str,
    prompt: str,
    interventions: list[Intervention],
    candidates: tuple[str, str] | None,
    position: int,
    title: str = "Reproduces a Sparse Circuits view: the outputs with and without the interventions.",
    pair: str | None = None,
) -> str:
    """The script's text. `model`: how the app names it ("default" or a checkpoint folder);
    `position`: the token read out (negative counts from the end); `pair`: the paired prompt,
    which patches take their values from (the script names it only when a patch needs it)."""
    if pair is not None and any(iv.mode == "patch" for iv in interventions):
        source_line = (
            f"pair = {pair!r}  # the paired prompt: patches take its values, aligned from the right\n"
            "source = bench.tokenizer.encode(pair)\n"
        )
    else:
        source_line = "source = None  # no patches from a paired prompt\n"
    lines = "".join(f"    Intervention({iv.kind!r}, {iv.target!r}, {iv.mode!r}),\n" for iv in interventions)
    return TEMPLATE.format(
        title=title.replace('"""', "'''"),
        model=model,
        prompt=prompt,
        candidates=tuple(candidates) if candidates is not None else None,
        position=position,
        interventions=lines,
        source_line=source_line,
    )
