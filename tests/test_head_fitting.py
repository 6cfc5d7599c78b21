"""Claim-head networks trained together, stacked: each learns its own rows and labels, as if trained alone."""

from __future__ import annotations

import gc
import inspect
import io
import weakref

import numpy as np
import pytest
import torch
from torch import nn

from mmaudit.config import TrainConfig
from mmaudit.models.attributes import AttributeHeads, ViewHeads, yes_no
from mmaudit.models.head_fitting import EPOCHS, SMOOTHING, Job, dropout_scale, fit_together, loss_gradient
from mmaudit.models.words import word_labels
from mmaudit.train import head_precision


def network(inputs: int, classes: dict[str, int], hidden: int = 16) -> nn.ModuleDict:
    return nn.ModuleDict({"trunk": nn.Sequential(nn.Linear(inputs, hidden), nn.GELU(), nn.Dropout(0.3)),
                          "heads": nn.ModuleDict({name: nn.Linear(hidden, n) for name, n in classes.items()})})


def predicted(net: nn.ModuleDict, z: torch.Tensor, name: str) -> np.ndarray:
    net.eval()
    with torch.no_grad():
        return net["heads"][name](net["trunk"](z)).argmax(-1).numpy()


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no GPU here: this machine runs the heads on the CPU"))])
def test_each_network_learns_its_own_labels_from_its_own_rows(device):
    """Networks stacked in one training share no gradient: three networks on different row counts of the same inputs,
    two with opposite labels, each learns its own; the row counts differ so the shorter ones wrap around. On a GPU
    too, the trained weights back in each network on the CPU."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    z = torch.from_numpy(rng.normal(size=(700, 5)).astype(np.float32))
    sign = (z[:, 0] > 0).long()
    jobs = [Job(network(5, {"colour": 2}), z, {"colour": sign}),
            Job(network(5, {"colour": 2}), z[:300].clone(), {"colour": 1 - sign[:300]}),
            Job(network(5, {"colour": 2}), z[:650].clone(), {"colour": (z[:650, 1] > 0).long()})]
    fit_together(jobs, epochs=300, multilabel=frozenset(), seed=0, device=torch.device(device))
    assert (predicted(jobs[0].network, z, "colour") == sign.numpy()).mean() > 0.95
    assert (predicted(jobs[1].network, z, "colour") == 1 - sign.numpy()).mean() > 0.95
    assert (predicted(jobs[2].network, z, "colour") == (z[:, 1] > 0).long().numpy()).mean() > 0.95


def test_in_bf16_the_inputs_are_held_in_half_the_bytes_and_each_network_still_learns_its_own_labels():
    """`precision="bf16"`: the stacked inputs table is bfloat16 (each job's rows are a view of it afterwards) and the
    networks' products run in bfloat16; weights stay float32, and each network learns its own labels as in fp32,
    ending near the fp32 weights."""
    rng = np.random.default_rng(5)
    z = torch.from_numpy(rng.normal(size=(600, 5)).astype(np.float32))
    sign = (z[:, 0] > 0).long()

    def trained(precision: str) -> list[Job]:
        torch.manual_seed(0)
        jobs = [Job(network(5, {"colour": 2}), z, {"colour": sign}), Job(network(5, {"colour": 2}), z[:400].clone(), {"colour": 1 - sign[:400]})]
        fit_together(jobs, epochs=100, multilabel=frozenset(), seed=0, precision=precision)
        return jobs

    half, full = trained("bf16"), trained("fp32")
    assert [job.z.dtype for job in half] == [torch.bfloat16] * 2 and [job.z.dtype for job in full] == [torch.float32] * 2
    assert all(p.dtype == torch.float32 for job in half for p in job.network.parameters())
    assert (predicted(half[0].network, z, "colour") == sign.numpy()).mean() > 0.95
    assert (predicted(half[1].network, z, "colour") == 1 - sign.numpy()).mean() > 0.95
    gaps = [(a - b).abs().max().item() for h, f in zip(half, full) for a, b in zip(h.network.parameters(), f.network.parameters())]
    assert 0 < max(gaps) < 0.01  # rounded products, not the fp32 training, and not far from it


def test_auto_precision_is_bf16_only_where_the_cpu_multiplies_it_natively(monkeypatch):
    """`train.head_precision` auto: bf16 on a CPU that torch finds AMX or AVX-512 BF16 on, fp32 on one without (where
    bfloat16 is emulated, slower than fp32) and where torch has no such probe; a setting named outright is kept."""
    cpu = torch.device("cpu")
    for amx, avx512_bf16, expected in ((True, False, "bf16"), (False, True, "bf16"), (False, False, "fp32")):
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
        assert head_precision("auto", cpu) == expected
        assert head_precision("fp32", cpu) == "fp32" and head_precision("bf16", cpu) == "bf16"
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    assert head_precision("auto", cpu) == "fp32"


def test_a_row_with_an_empty_cell_teaches_nothing_about_that_column():
    """Rows whose label is -1 are left out of that column's loss (read as class 0 they would pull half the rows to 0)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    z = torch.from_numpy(rng.normal(size=(600, 4)).astype(np.float32))
    truth = (z[:, 0] > 0).long()
    codes = torch.where(torch.arange(600) % 2 == 0, truth, torch.full_like(truth, -1))
    job = Job(network(4, {"colour": 2}), z, {"colour": codes})
    fit_together([job], epochs=300, multilabel=frozenset(), seed=0)
    assert (predicted(job.network, z, "colour") == truth.numpy()).mean() > 0.95


def test_the_written_out_gradient_is_autograds_through_each_networks_own_losses():
    """The heads train on `loss_gradient`: it equals autograd's gradient of the sum over networks of each one's
    smoothed losses over its known rows, computed network by network with torch's own losses: two columns of classes
    (cross-entropy with label smoothing; their classes added in one scatter, their rows weighed from one count) and one
    of yes/no labels (each label's two answers), side by side, with rows and labels unknown (-1). Made to fail by
    smoothing over the wrong count of classes, by weighing each network by all its rows rather than its known ones,
    and by adding a column's class at the first column's outputs."""
    rng = np.random.default_rng(2)
    networks, rows, classes, labels = 3, 32, [5, 3], 4
    outputs = torch.from_numpy(rng.normal(size=(networks, rows, sum(classes) + labels)))
    stated = torch.from_numpy(np.stack([rng.integers(-1, k, size=(networks, rows)) for k in classes], -1))
    answers = torch.from_numpy(rng.integers(-1, 2, size=(networks, rows, labels)))

    def own_losses(out: torch.Tensor, k: int) -> torch.Tensor:
        total, start = 0, 0
        for column, size in enumerate(classes):
            known = stated[k, :, column] >= 0
            total = total + nn.functional.cross_entropy(out[known, start:start + size], stated[k, :, column][known], label_smoothing=SMOOTHING)
            start += size
        log_p, answer = yes_no(out[:, start:]).reshape(-1, 2), answers[k].reshape(-1)
        known = answer >= 0
        return total + nn.functional.cross_entropy(log_p[known], answer[known], label_smoothing=SMOOTHING)

    leaf = outputs.clone().requires_grad_()
    sum(own_losses(leaf[k], k) for k in range(networks)).backward()
    written = loss_gradient(outputs, stated, [answers], classes, [labels])
    torch.testing.assert_close(written, leaf.grad)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_dropout_drops_its_rate_of_units_in_256ths_and_keeps_the_mean(dtype):
    """Each unit dropped with probability 77/256 (a rate of 0.3 in 256ths), independently of its place in the draws
    (every byte of each 64-bit draw counts alike), the kept ones scaled to keep the mean; in the hidden units' own
    precision; another draw, other units."""
    generator = torch.Generator().manual_seed(0)
    hidden = torch.ones((4, 500, 1000), dtype=dtype)
    scale = dropout_scale(hidden, 0.3, generator)
    assert scale.dtype == dtype and scale.shape == hidden.shape
    dropped = scale == 0
    for place in range(8):  # the units of one byte of every draw
        assert abs(dropped.flatten()[place::8].float().mean().item() - 77 / 256) < 0.003
    assert set(scale.unique().tolist()) == {0.0, float(torch.tensor(256 / 179, dtype=dtype))}
    assert abs(scale.float().mean().item() - 1) < 0.003
    assert not torch.equal(dropout_scale(hidden, 0.3, generator), scale)


def test_the_fused_optimizer_ends_at_the_weights_of_the_plain_one(monkeypatch):
    """The heads' AdamW runs fused (one pass over the weights); trained with the plain one, element by element, the
    same networks on the same draws end at the same weights, to float rounding."""
    rng = np.random.default_rng(3)
    z = torch.from_numpy(rng.normal(size=(600, 6)).astype(np.float32))
    codes = {"colour": (z[:, 0] > 0).long(), "words": (z[:, 1:4] > 0).long()}

    def trained() -> list[torch.Tensor]:
        torch.manual_seed(0)
        jobs = [Job(network(6, {"colour": 2, "words": 3}), z, codes) for _ in range(2)]
        fit_together(jobs, epochs=20, multilabel=frozenset({"words"}), seed=0)
        return [p.detach().clone() for job in jobs for p in job.network.parameters()]

    plain, asked = torch.optim.AdamW, []
    monkeypatch.setattr(torch.optim, "AdamW", lambda params, **kw: asked.append(kw.get("fused")) or plain(params, **kw))
    fused = trained()
    assert asked == [True]  # the shipped training asks for the fused one
    monkeypatch.setattr(torch.optim, "AdamW", lambda params, **kw: plain(params, **{**kw, "fused": False}))
    for a, b in zip(fused, trained()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_yes_no_labels_held_in_one_byte_train_the_same_weights():
    """The words' labels are held as int8 (`words.word_labels`: [products, words] per text column, copied per fold and
    view while the heads train): the same networks on the same draws end at exactly the weights int64 labels give."""
    rng = np.random.default_rng(4)
    z = torch.from_numpy(rng.normal(size=(500, 6)).astype(np.float32))
    labels = np.where(rng.random((500, 4)) < 0.1, -1, (z[:, :4].numpy() > 0)).astype(np.int64)

    def trained(dtype: np.dtype) -> list[torch.Tensor]:
        torch.manual_seed(0)
        jobs = [Job(network(6, {"words": 4}), z, {"words": torch.from_numpy(labels.astype(dtype))})]
        fit_together(jobs, epochs=5, multilabel=frozenset({"words"}), seed=0)
        return [p.detach().clone() for p in jobs[0].network.parameters()]

    assert word_labels(np.array([[0, 2], [-1, -1]]), 3).dtype == np.int8
    for a, b in zip(trained(np.int8), trained(np.int64)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_the_inputs_move_into_the_stacked_table_and_are_held_once():
    """The networks' standardized inputs (they grow with the catalog) are padded into one table to train; each job's
    `z` then becomes its rows of that table, with the same values, and the table it had is released, not kept beside
    the padded copy."""
    rng = np.random.default_rng(5)
    tables = [torch.from_numpy(rng.normal(size=(n, 6)).astype(np.float32)) for n in (300, 280)]
    codes = [{"c": torch.from_numpy(rng.integers(0, 3, n))} for n in (300, 280)]
    jobs = [Job(network(6, {"c": 3}), tables[t], codes[t]) for t in (0, 0, 1)]  # two members of one table, one of another
    values = [table.clone() for table in tables]
    released = [weakref.ref(table) for table in tables]
    del tables
    fit_together(jobs, epochs=1, multilabel=frozenset(), seed=0)
    gc.collect()
    assert [ref() for ref in released] == [None, None]
    for job, t in zip(jobs, (0, 0, 1)):
        assert torch.equal(job.z, values[t])
    assert len({job.z.untyped_storage().data_ptr() for job in jobs}) == 1  # one padded table holds them all
    assert jobs[0].z.data_ptr() == jobs[1].z.data_ptr() != jobs[2].z.data_ptr()


def test_the_training_shows_its_steps_on_a_progress_bar(monkeypatch):
    """On a large catalog the claim heads are most of `train`: their bar counts every step of every shape of network
    (an epoch is the largest network's rows in batches of BATCH) and ends full, with the epoch it reached."""
    from rich.console import Console
    from rich.progress import Progress

    from mmaudit.models import head_fitting

    shown = Progress(console=Console(file=io.StringIO(), force_terminal=True, width=120))
    monkeypatch.setattr(head_fitting, "bar", lambda: shown)
    rng = np.random.default_rng(6)
    rows = (head_fitting.BATCH + 100, 300, 40)  # two networks of one shape (2 batches an epoch), one of another (1)
    jobs = [Job(network(width, {"c": 3}), torch.from_numpy(rng.normal(size=(n, width)).astype(np.float32)),
                {"c": torch.from_numpy(rng.integers(0, 3, n))}) for n, width in zip(rows, (6, 6, 4))]
    fit_together(jobs, epochs=3, multilabel=frozenset(), seed=0, description="claim heads: words")
    (task,) = shown.tasks
    assert task.description == "claim heads: words"
    assert task.total == task.completed == 3 * 2 + 3 * 1
    assert task.fields["rate"] == "epoch 3/3"


def test_the_heads_train_as_long_by_default_everywhere_as_their_learning_rate_was_chosen_for():
    """The learning rate was measured with `EPOCHS`; `mmaudit train` (its setting) and `fit` default to it."""
    assert TrainConfig().attribute_epochs == EPOCHS
    assert inspect.signature(ViewHeads.fit).parameters["epochs"].default == EPOCHS
    assert inspect.signature(AttributeHeads.fit).parameters["epochs"].default == EPOCHS
