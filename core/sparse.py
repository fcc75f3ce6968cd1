"""Sparse inference: the big weight matrices held as CSR, multiplied without densifying.

A trained weight-sparse model keeps 1/128 to 1/1000 of each matrix; held dense, a paper-sized
model (8 layers, d_model 2048) is 1.6 GB and a forward pass multiplies mostly zeros. Here each
linear layer of the blocks (and an untied unembedding) becomes a `SparseLinear` of the same name,
with the same hooks, whose weight is a read-only CSR tensor (int32 indices). Its output equals
the dense layer's to float rounding, and gradients flow to its input (pruning's node masks), not
to the weight: weights are frozen for circuit work.

`to_csr` converts a dense matrix a band of rows at a time, so that a matrix memory-mapped from
disk is never resident whole (see formats.load_openai).

Code that reads weights goes through `dense`, `entries` and `dense_rows`, which accept either
layout.
"""

from __future__ import annotations

import ctypes
import mmap
import sys
import warnings

import torch
import torch.nn.functional as F
from torch import nn

# A model whose matrices have fewer nonzeros than this fraction is opened sparse by default.
SPARSE_BELOW = 0.05
_BAND_BYTES = 4 << 20  # rows converted at a time by to_csr


def is_sparse(tensor: torch.Tensor) -> bool:
    return tensor.layout == torch.sparse_csr


def csr(crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, shape) -> torch.Tensor:
    """A CSR tensor with int32 indices, checked (the indices may come from an untrusted file)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: "CSR support is in beta state"
        return torch.sparse_csr_tensor(
            crow.to(torch.int32), col.to(torch.int32), values, tuple(shape), check_invariants=True
        )


def to_csr(weight: torch.Tensor, dtype=torch.float32, release: bool = False) -> torch.Tensor:
    """The CSR form of a dense 2-D matrix, built a band of rows at a time. `release`: the matrix is
    memory-mapped from a file; hand each band's pages back to the system once read."""
    rows, cols = weight.shape
    band = max(1, _BAND_BYTES // max(1, cols * weight.element_size()))
    counts, col_parts, value_parts = [], [], []
    for start in range(0, rows, band):
        chunk = weight[start : start + band].to(dtype)
        r, c = chunk.nonzero(as_tuple=True)
        counts.append(torch.bincount(r, minlength=chunk.shape[0]))
        col_parts.append(c.to(torch.int32))
        value_parts.append(chunk[r, c].clone())
        if release:
            release_pages(weight[start : start + band])
    crow = torch.zeros(rows + 1, dtype=torch.int64)
    if counts:
        torch.cumsum(torch.cat(counts), 0, out=crow[1:])
    empty_i, empty_v = torch.zeros(0, dtype=torch.int32), torch.zeros(0, dtype=dtype)
    return csr(crow, torch.cat(col_parts or [empty_i]), torch.cat(value_parts or [empty_v]), (rows, cols))


def release_pages(view: torch.Tensor) -> None:
    """madvise(DONTNEED) over the whole pages of a memory-mapped tensor: it stays readable (the
    pages come back from the file) but stops counting towards this process's memory."""
    if sys.platform not in ("linux", "darwin") or not view.is_contiguous() or view.numel() == 0:
        return
    start = view.data_ptr()
    first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
    last = (start + view.numel() * view.element_size()) // mmap.PAGESIZE * mmap.PAGESIZE
    if last > first:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise(ctypes.c_void_p(first), ctypes.c_size_t(last - first), 4)  # MADV_DONTNEED


def dense(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.to_dense() if is_sparse(tensor) else tensor


def count_nonzero(tensor: torch.Tensor) -> int:
    if is_sparse(tensor):
        return int((tensor.values() != 0).sum())
    return int((tensor != 0).sum())


def dense_rows(weight: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """weight[rows] as a dense [len(rows), d_in] matrix, for either layout."""
    if not is_sparse(weight):
        return weight.index_select(0, rows)
    crow, col, values = weight.crow_indices(), weight.col_indices(), weight.values()
    out = torch.zeros(len(rows), weight.shape[1], dtype=values.dtype, device=values.device)
    for i, r in enumerate(rows.tolist()):
        lo, hi = int(crow[r]), int(crow[r + 1])
        out[i, col[lo:hi].long()] = values[lo:hi]
    return out


def entries(weight: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """weight[rows, cols] (zeros where no weight is stored), for either layout."""
    if not is_sparse(weight):
        return weight[rows, cols]
    return dense_rows(weight, rows).gather(1, cols.view(-1, 1)).view(-1)


class SparseLinear(nn.Module):
    """y = x W^T + b with W a frozen CSR matrix [out_features, in_features]."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.weight = nn.Parameter(weight if is_sparse(weight) else to_csr(weight), requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(), requires_grad=False)

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> "SparseLinear":
        return cls(linear.weight.detach(), linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # CSR times a dense [d_in, tokens] matrix with contiguous rows: each stored weight adds
        # a scaled row of the input (measured fastest on CPU of the layouts tried: 6x a
        # [tokens, d_in] operand). The output stays stored by feature (a transposed view): the
        # next sparse layer reads it so without a copy, and elementwise ops keep that layout.
        flat_t = x.reshape(-1, self.in_features).t().contiguous()
        if x.device.type == "cpu" and not (torch.is_grad_enabled() and x.requires_grad):
            out = self._product_cpu(flat_t).t()
        else:
            out = torch.sparse.mm(self.weight, flat_t).t()  # differentiable in its input
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features)

    def _product_cpu(self, flat_t: torch.Tensor) -> torch.Tensor:
        """W @ flat_t as an embedding bag: output row i sums the input rows named by row i's
        column indices, each scaled by its weight. It is a CSR product summed in the same
        order, and torch's bag kernel (FBGEMM, generated for the row width) ran 15-50% faster
        than its CSR addmm (MKL) on the paper-shaped matrices, with none of addmm's setup."""
        crow, col, values = self.weight.crow_indices(), self.weight.col_indices(), self.weight.values()
        return F.embedding_bag(col, flat_t, crow[:-1], mode="sum", per_sample_weights=values)

    def to_linear(self) -> nn.Linear:
        linear = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)
        with torch.no_grad():
            linear.weight.copy_(self.weight.to_dense())
            if self.bias is not None:
                linear.bias.copy_(self.bias)
        return linear.to(self.weight.device)

    def extra_repr(self) -> str:
        nnz = self.weight.values().numel()
        return f"in_features={self.in_features}, out_features={self.out_features}, nnz={nnz}"


def sparse_keys(model) -> list[str]:
    """Module paths of the matrices a sparse model holds as CSR: every linear layer of the
    blocks, and the unembedding unless it is tied to the embedding."""
    from .topology import LINEARS

    keys = [f"transformer.h.{i}.{linear}" for i in range(model.config.n_layer) for linear in LINEARS]
    return keys + ([] if model.config.tied_unembed else ["lm_head"])


def weight_density(model) -> float:
    """Nonzero fraction over the matrices that `sparsify` would convert."""
    nonzero = total = 0
    for key in sparse_keys(model):
        w = model.get_submodule(key).weight
        nonzero += count_nonzero(w)
        total += w.numel()
    return nonzero / max(1, total)


@torch.no_grad()
def sparsify(model):
    """Hold the model's big matrices as CSR, in place (same module names, same hooks)."""
    for key in sparse_keys(model):
        module = model.get_submodule(key)
        if isinstance(module, nn.Linear):
            model.replace_linear(key, SparseLinear.from_linear(module))
    return model


@torch.no_grad()
def densify(model):
    """Undo `sparsify`, in place."""
    for key in sparse_keys(model):
        module = model.get_submodule(key)
        if isinstance(module, SparseLinear):
            model.replace_linear(key, module.to_linear())
    return model


def is_sparse_model(model) -> bool:
    return any(isinstance(m, SparseLinear) for m in model.modules())
