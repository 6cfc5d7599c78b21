"""Training many small claim-head networks at once, as one batched network.

The claim heads are many networks of one shape (members x views x folds), each on its own rows. Trained one after the
other, a step of each costs mostly the framework's per-operation overhead, not arithmetic; stacked, every step of every
network is one batched matrix product, and the training is the same: each network keeps its own initial weights, its
own shuffled batches and dropout, and its own loss, so its gradients are its own; AdamW works element by element, so
one optimizer over the stacked weights is one optimizer per network (docs/decisions/2026-12-02-heads-trained-together.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..progress import bar

BATCH = 512
# 20 epochs at 2e-3: as good as 40 epochs at 1e-3, in half the steps (docs/decisions/2026-12-03-claim-heads-half-the-epochs.md);
# TrainConfig.attribute_epochs defaults to EPOCHS
EPOCHS, LR, WEIGHT_DECAY = 20, 2e-3, 0.05
SMOOTHING = 0.1  # label smoothing keeps the costs finite
CPU = torch.device("cpu")


@dataclass
class Job:
    """One network to train: `network` is a member (`trunk`: Linear, activation, Dropout; `heads`: one Linear per
    column), `z` its standardized training inputs, `codes` per column the class per row (-1: empty), or in a
    multi-label column [rows, labels] of 0/1."""

    network: nn.ModuleDict
    z: torch.Tensor
    codes: dict[str, torch.Tensor]


def fit_together(jobs: list[Job], epochs: int, multilabel: frozenset[str], seed: int, description: str = "claim heads",
                 device: torch.device = CPU, precision: str = "fp32") -> None:
    """Train every job's network for `epochs` on its own rows, those of one shape all at once, on `device`; the trained
    weights go back into each network (on the CPU, where the heads predict). A network's epoch is its rows in a fresh
    random order, in batches of `BATCH`; one with fewer rows than the largest of its shape wraps around to as many rows
    as that one (its folds differ by a few rows). A progress bar (`description`) counts the steps: on a large catalog
    this is most of `train`. `precision` bf16: the inputs held and the networks' products computed in bfloat16
    (weights, optimizer and losses stay float32)."""
    shapes: dict[tuple, list[Job]] = {}
    for job in jobs:
        shapes.setdefault((job.z.shape[1], job.network["trunk"][0].out_features), []).append(job)
    total = sum(max(epochs, 0) * steps_per_epoch(same_shape) for same_shape in shapes.values())
    with bar() as progress:
        task = progress.add_task(description, total=total, rate="")
        for k, same_shape in enumerate(shapes.values()):
            fit_stacked(same_shape, epochs, multilabel, seed + k,
                        lambda epoch: progress.update(task, advance=1, rate=f"epoch {epoch + 1}/{epochs}"), device, precision)


def steps_per_epoch(jobs: list[Job]) -> int:
    """Batches of `BATCH` in an epoch of networks of one shape: as many rows as the largest network's."""
    return -(-max(len(job.z) for job in jobs) // BATCH)


def fit_stacked(jobs: list[Job], epochs: int, multilabel: frozenset[str], seed: int,
                step_done: Callable[[int], None] = lambda epoch: None, device: torch.device = CPU, precision: str = "fp32") -> None:
    """`fit_together` of networks of one shape and the same columns; `step_done(epoch)` after each step."""
    if epochs <= 0:
        return
    generator = torch.Generator(device).manual_seed(seed)  # the batches' order and the dropout, drawn where the work runs
    names = list(jobs[0].network["heads"])
    several = [name for name in names if name in multilabel]
    single = [name for name in names if name not in multilabel]
    columns = single + several  # the outputs of the columns of classes first, then those of yes/no labels
    *weights, slices = stacked_weights(jobs, columns)
    classes, labels = ([slices[name].stop - slices[name].start for name in part] for part in (single, several))
    params = [p.detach().to(device).requires_grad_() for p in weights]
    w1, b1, w2, b2 = params
    # fused: the same update in one pass over the weights instead of a dozen (a fifth of a step unfused)
    optimizer = torch.optim.AdamW(params, lr=LR, weight_decay=WEIGHT_DECAY, fused=True)
    half = precision == "bf16"
    inputs, codes, group, rows = shared_inputs(jobs, columns, torch.bfloat16 if half else None)
    inputs, group, rows = inputs.to(device), group.to(device), rows.to(device)  # on the CPU: the same tensors, no copy
    stated = torch.stack([codes.pop(name) for name in single], -1).to(device) if single else None  # [tables, rows, columns]
    codes = {name: values.to(device) for name, values in codes.items()}
    dropout = jobs[0].network["trunk"][-1].p
    picks = torch.arange(inputs.shape[1], device=device)  # an epoch: as many rows as the largest network's, in batches of BATCH
    steps = steps_per_epoch(jobs)
    first_row = group[:, None] * inputs.shape[1]  # each network's table's first row among all tables' rows
    for epoch in range(epochs):
        order = torch.rand(len(jobs), len(picks), generator=generator, device=device)
        order[picks >= rows[:, None]] = 2.0  # rows a network lacks sort last
        order = order.argsort(1).gather(1, picks % rows[:, None])  # each network's rows in order, a shorter one wrapped around
        for s in range(steps):
            at = (first_row + order[:, s * BATCH:(s + 1) * BATCH]).flatten()  # each network's batch, as rows of the flat tables
            x = rows_at(inputs, at, len(jobs))
            with torch.autocast(device.type, torch.bfloat16, enabled=half):
                hidden = nn.functional.gelu(torch.baddbmm(b1, x, w1))
                hidden = hidden * dropout_scale(hidden, dropout, generator)
                outputs = torch.baddbmm(b2, hidden, w2)  # bf16 under autocast: `loss_gradient` reads it in float32
            answers = [rows_at(codes[name], at, len(jobs)) for name in several]
            optimizer.zero_grad()
            gradient = loss_gradient(outputs.detach(), rows_at(stated, at, len(jobs)) if single else None, answers, classes, labels)
            outputs.backward(gradient.to(outputs.dtype))
            optimizer.step()
            step_done(epoch)
    unstack(jobs, columns, [p.detach().cpu() for p in params], slices)


def dropout_scale(hidden: torch.Tensor, rate: float, generator: torch.Generator) -> torch.Tensor:
    """Dropout's factor for each of `hidden`'s units (0 for a dropped one, 1 / the share kept for the others), each
    decided by one random byte against `rate` in 256ths (0.3: 77 of 256, 0.301): eight units per 64-bit draw, and one
    product with `hidden` in its own precision: a step 0.85x drawing a float per unit and scaling by two products."""
    count, dropped = hidden.numel(), round(rate * 256)
    words = torch.randint(-2 ** 63, 2 ** 63 - 1, (-(-count // 8),), dtype=torch.int64, generator=generator, device=hidden.device)
    kept = words.view(torch.uint8)[:count].view(hidden.shape) >= dropped
    return kept.to(hidden.dtype).mul_(256 / (256 - dropped))


def rows_at(tables: torch.Tensor, at: torch.Tensor, networks: int) -> torch.Tensor:
    """[networks, batch, ...]: the rows `at` of [tables, rows, ...] counted across tables, as one copy of whole rows
    (twice as fast as indexing tables and rows with two index tensors)."""
    return tables.flatten(0, 1).index_select(0, at).unflatten(0, (networks, -1))


def stacked_weights(jobs: list[Job], columns: list[str]) -> tuple:
    """Trunk weights [networks, inputs, hidden] and biases [networks, 1, hidden]; every column's head side by side:
    weights [networks, hidden, outputs], biases [networks, 1, outputs]; and each column's slice of the outputs."""
    trunks = [job.network["trunk"][0] for job in jobs]
    heads = [[job.network["heads"][name] for name in columns] for job in jobs]
    sizes = [head.out_features for head in heads[0]]
    ends = torch.tensor(sizes).cumsum(0).tolist()
    slices = {name: slice(end - size, end) for name, size, end in zip(columns, sizes, ends)}
    with torch.no_grad():
        w1 = torch.stack([t.weight.T for t in trunks]).contiguous()
        b1 = torch.stack([t.bias[None] for t in trunks])
        w2 = torch.stack([torch.cat([h.weight.T for h in hs], 1) for hs in heads]).contiguous()
        b2 = torch.stack([torch.cat([h.bias for h in hs])[None] for hs in heads])
    return (*(p.clone().requires_grad_() for p in (w1, b1, w2, b2)), slices)


def shared_inputs(jobs: list[Job], columns: list[str], dtype: torch.dtype | None = None) -> tuple:
    """The distinct input tables (members of one view and fold share theirs) padded to one [tables, rows, inputs] tensor,
    each column's codes likewise, the table of each job, and each job's row count. The tables move into the padded
    tensor one at a time: each job's `z` becomes its rows there, so the inputs are held once, not twice, while the
    networks train (they grow with the catalog). `dtype`: the tensor's, if not the inputs' own."""
    tables: dict[int, list[Job]] = {}  # the jobs of each table, in order of first use
    for job in jobs:
        tables.setdefault(id(job.z), []).append(job)
    index = {key: k for k, key in enumerate(tables)}
    group = [index[id(job.z)] for job in jobs]
    rows = torch.tensor([len(job.z) for job in jobs])
    ordered = list(tables.values())
    longest = int(rows.max())

    def padded(values: list[torch.Tensor], fill) -> torch.Tensor:
        out = torch.full((len(values), longest, *values[0].shape[1:]), fill, dtype=values[0].dtype)
        for k, v in enumerate(values):
            out[k, :len(v)] = v
        return out

    codes = {name: padded([same[0].codes[name] for same in ordered], -1) for name in columns}
    first = ordered[0][0].z
    inputs = torch.empty((len(ordered), longest, first.shape[1]), dtype=dtype or first.dtype)  # pages filled as each table moves in
    for k, same in enumerate(ordered):
        z = same[0].z
        inputs[k, :len(z)] = z
        inputs[k, len(z):] = 0.0
        for job in same:
            job.z = inputs[k, :len(z)]
    return inputs, codes, torch.tensor(group), rows


def row_weights(known: torch.Tensor) -> torch.Tensor:
    """Each known row's (or label's) weight in its network's loss: 1 / the network's known rows (labels); 0 where unknown."""
    dims = tuple(range(1, known.dim()))
    return known / known.sum(dims, keepdim=True).clamp(min=1)


def loss_gradient(outputs: torch.Tensor, stated: torch.Tensor | None, answers: list[torch.Tensor], classes: list[int],
                  labels: list[int]) -> torch.Tensor:
    """What the heads learn from: the gradient, with respect to `outputs` [networks, rows, outputs], of the sum over
    networks and columns of each network's mean smoothed loss over its rows where the column is known. The outputs hold
    the columns of classes first (`classes` outputs each; `stated` [networks, rows, columns]: each row's class, -1
    unknown), then those of yes/no labels (`labels` each; `answers` per column [networks, rows, labels] of 0/1, -1
    unknown). The loss: the negative log-likelihood of the stated class (of each label's answer) weighed 1 - s, and
    minus the mean log-probability over the classes (the two answers) weighed s, the smoothing. Its gradient per output
    is the row's weight times (predicted probability - smoothed target): 1 - s + s / classes on the stated class,
    s / classes on the others, in float32 at least (bf16 outputs are read in float32 column by column, not copied
    whole). Written out, the losses themselves need not be computed: a step 0.87x autograd's through them. The columns
    of classes share each step's calls but the softmax (a column's class added with one scatter, its rows' weights
    from one count): the same numbers as column by column, in fewer calls (bench/head_steps.py)."""
    exact = torch.promote_types(outputs.dtype, torch.float32)  # bf16 outputs read in float32, each column as it is cut out
    pieces = []
    if classes:
        gradient = torch.cat([torch.softmax(out, -1, dtype=exact) for out in outputs[..., :sum(classes)].split(classes, -1)], -1)
        counts = torch.tensor(classes, device=outputs.device)
        gradient.sub_(torch.tensor([SMOOTHING / k for k in classes], dtype=exact, device=outputs.device).repeat_interleave(counts))
        first = counts.cumsum(0) - counts  # each column's first output
        gradient.scatter_add_(-1, stated.clamp(min=0) + first, torch.full(stated.shape, -(1 - SMOOTHING), dtype=exact, device=outputs.device))
        known = stated >= 0
        weight = known / known.sum(1, keepdim=True).clamp(min=1)
        for column, piece in enumerate(gradient.split(classes, -1)):
            piece.mul_(weight[..., column, None])
        pieces.append(gradient)
    for out, y in zip(outputs[..., sum(classes):].split(labels, -1), answers):
        pieces.append(torch.sigmoid(out.to(exact)).sub_(y.clamp(min=0), alpha=1 - SMOOTHING).sub_(SMOOTHING / 2).mul_(row_weights(y >= 0)))
    return torch.cat(pieces, -1) if len(pieces) > 1 else pieces[0]


def unstack(jobs: list[Job], columns: list[str], params: list[torch.Tensor], slices: dict[str, slice]) -> None:
    """The trained stacked weights back into each job's network."""
    w1, b1, w2, b2 = params
    with torch.no_grad():
        for k, job in enumerate(jobs):
            trunk = job.network["trunk"][0]
            trunk.weight.copy_(w1[k].T)
            trunk.bias.copy_(b1[k, 0])
            for name in columns:
                head = job.network["heads"][name]
                head.weight.copy_(w2[k][:, slices[name]].T)
                head.bias.copy_(b2[k, 0, slices[name]])
