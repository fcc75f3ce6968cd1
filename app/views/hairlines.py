"""Many one-pixel lines drawn at once: a vectorised line rasteriser (numpy plans, torch draws).

Qt's raster engine strokes a non-antialiased hairline at ~30 ns a pixel (each pixel is a span
through its blend functions), and a 200,000-edge graph at screen resolution is ~40 million
line pixels: over a second of painting. Here a line's pixels cost one multiply-add each and
are written by one torch scatter (numpy's fancy assignment is ~2x slower): 3-5 ns a pixel,
with Python's lock let go so that threads can share the work.

Each segment is drawn as the pixels Qt's non-antialiased cosmetic pen gives it, up to Qt's
fixed-point rounding: one per row for a steep line (for a flat one, one per column), the one
under the line at the row's centre, or at its top for a line leaning back. Layers are drawn in
order, a later one over an earlier one, into a priority image (0: no line; i: layer i - 1 on
top) that the caller colours with a lookup table: colours are not blended.

draw() draws some segments (any thread; a share of each layer, say) into a buffer; combine()
merges the buffers of all shares into the priority image. Lines are drawn in chunks of lines
of about one length, as [pixel, line] arrays: a few torch calls for thousands of lines, and
consecutive writes fall in nearby rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

PAD = 2  # rows and columns around a buffer that catch pixels rounded just outside the image
CHUNK = 1 << 18  # pixels per torch call: enough to amortise the call, few enough for the L3 cache
EXACT_LENGTHS = 64  # shorter lines are grouped by their exact length, longer ones within 1/32


@dataclass
class _Chunk:
    value: int  # the layer's number + 1: the priority written
    length: int  # pixels drawn per line
    base: torch.Tensor  # [K] f64: steep: the first pixel's buffer index + fraction; flat: its row
    step: torch.Tensor  # [K] f64: per pixel, steep: a row + the slope; flat: the slope
    last: torch.Tensor | None  # [K] f64: each line's last pixel (n - 1); None: all are `length`
    column: torch.Tensor | None  # [K] f64: a flat line's first column; None: steep lines
    pixels: int  # length * K


def _bucket_table(longest: int = 1 << 14) -> np.ndarray:
    """Lines of about one length share a bucket: exact below EXACT_LENGTHS, then 1/32 apart,
    so a chunk spends at most ~3% on the pixels its shorter lines repeat."""
    n = np.arange(longest + 1)
    log = np.log2(np.maximum(n, EXACT_LENGTHS) / EXACT_LENGTHS)
    return np.where(n < EXACT_LENGTHS, n, EXACT_LENGTHS + (32 * log).astype(np.int64)).astype(np.uint16)


_BUCKET = _bucket_table()
_BUCKETS = int(_BUCKET[-1]) + 1


def draw(layers: list[np.ndarray], w: int, h: int, to_pixels=(0.0, 0.0, 1.0, 1.0)) -> torch.Tensor:
    """`layers`: segments [E, 4] (x0, y0, x1, y1), the first layer drawn first, each point
    mapped to a pixel of a w x h image as ((x - ox) * sx, (y - oy) * sy) by `to_pixels`
    (ox, oy, sx, sy), pixel (i, j) covering [i, i + 1) x [j, j + 1). Their priorities, in a
    buffer [(h + 2 PAD) * (w + 2 PAD)] for combine()."""
    chunks = _plan(layers, w, h, to_pixels)
    buffer = torch.zeros((h + 2 * PAD) * (w + 2 * PAD), dtype=torch.uint8)
    size = max((c.pixels for c in chunks), default=0)
    where = torch.empty(size, dtype=torch.float64)
    along = torch.empty(size, dtype=torch.float64)
    index = torch.empty(size, dtype=torch.int64)
    column = torch.empty(size, dtype=torch.int64)
    values: dict[int, torch.Tensor] = {}
    steps: dict[int, torch.Tensor] = {}
    for c in chunks:
        if c.length not in steps:
            steps[c.length] = torch.arange(c.length, dtype=torch.float64)[:, None]
        if c.value not in values:
            values[c.value] = torch.full((size,), c.value, dtype=torch.uint8)
        m = c.pixels
        at, at_index = where[:m], index[:m]
        k = steps[c.length]
        if c.last is not None:  # a shorter line repeats its last pixel
            k = torch.minimum(k, c.last, out=along[:m].view(c.length, -1))
        torch.addcmul(c.base, k, c.step, out=at.view(c.length, -1))  # [pixel, line]
        at_index.copy_(at)  # truncation is floor here: no index is negative
        if c.column is not None:  # `at_index` is the row: add the column
            at_index.mul_(w + 2 * PAD)
            torch.add(k, c.column, out=at.view(c.length, -1))
            column[:m].copy_(at)
            at_index.add_(column[:m])
        buffer.scatter_(0, at_index, values[c.value][:m])
    return buffer


def combine(shares: list[torch.Tensor], w: int, h: int, stride: int | None = None) -> np.ndarray:
    """The priority image [h, stride] (uint8; `stride` >= w columns, those past w empty):
    each pixel's highest layer in any share."""
    out = torch.zeros(h, stride or w, dtype=torch.uint8)
    for share in shares:
        part = share.view(h + 2 * PAD, w + 2 * PAD)[PAD : PAD + h, PAD : PAD + w]
        torch.maximum(out[:, :w], part, out=out[:, :w])
    return out.numpy()


def _plan(layers: list[np.ndarray], w: int, h: int, to_pixels) -> list[_Chunk]:
    """Every line's first pixel, advance and length, in chunks in drawing order."""
    total = sum(len(s) for s in layers)
    if not total:
        return []
    if (len(layers) + 1) * _BUCKETS >= 1 << 16:
        raise ValueError(f"too many layers to draw: {len(layers)}")
    ox, oy, sx, sy = to_pixels
    origin, scale = np.array([[ox], [oy], [ox], [oy]]), np.array([[sx], [sy], [sx], [sy]])
    points = np.empty((4, total))  # x0, y0, x1, y1 as rows: contiguous, unlike a segment's columns
    value = np.empty(total, dtype=np.uint16)
    at = 0
    for i, s in enumerate(layers):
        np.subtract(s.T, origin, out=points[:, at : at + len(s)])
        value[at : at + len(s)] = i + 1
        at += len(s)
    points *= scale
    x0, y0, x1, y1 = points
    flat = np.abs(x1 - x0) > np.abs(y1 - y0)
    chunks = []
    for is_flat in (False, True):
        pick = flat if is_flat else ~flat
        if not pick.any():
            continue
        if is_flat:  # along the line: x; across: y
            ends = x0[pick], x1[pick], y0[pick], y1[pick], w, h
        else:
            ends = (y0, y1, x0, x1, h, w) if pick.all() else (y0[pick], y1[pick], x0[pick], x1[pick], h, w)
        chunks += _chunks(*ends, value[pick], w + 2 * PAD, is_flat)
    chunks.sort(key=lambda c: c.value)  # a layer's steep and flat lines, before the next layer
    return chunks


def _chunks(a0, a1, b0, b1, rows: int, across: int, value, stride: int, flat: bool) -> list[_Chunk]:
    """Lines that run along `a` (y for steep lines, x for flat ones, `rows` pixels) and
    across `b`, in chunks by layer and length."""
    lo, hi = np.minimum(a0, a1), np.maximum(a0, a1)
    b_lo = np.where(a1 < a0, b1, b0)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (b1 - b0) / (a1 - a0)
    slope[lo == hi] = 0.0  # a point
    # Where a row's pixel is: b at the row's centre, or at its top for a line leaning back,
    # as Qt 6 does (so that both draw the same pixels).
    at = np.where(slope > 0, 0.5, 0.0) - lo
    first = np.maximum(np.floor(lo), 0)
    last = np.minimum(np.floor(hi), rows - 1)
    # The lines that leave the image sideways lose the rows where they are outside.
    b_first = b_lo + (first + at) * slope
    b_last = b_lo + (last + at) * slope
    out = (np.minimum(b_first, b_last) < 0) | (np.maximum(b_first, b_last) >= across)
    if out.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            b_0 = -at[out] - b_lo[out] / slope[out]  # the row where b = 0
            b_across = -at[out] + (across - b_lo[out]) / slope[out]
        level = slope[out] == 0  # parallel to the image's edge and outside it: no rows
        b_0[level], b_across[level] = np.inf, np.inf
        first[out] = np.maximum(first[out], np.ceil(np.minimum(b_0, b_across)))
        last[out] = np.minimum(last[out], np.floor(np.maximum(b_0, b_across)))
    keep = last >= first
    if not keep.any():
        return []
    if not keep.all():
        first, last, slope, at, b_lo, value = (v[keep] for v in (first, last, slope, at, b_lo, value))
    n = (last - first).astype(np.int64) + 1
    # A steep line's pixels: index = floor(base + k * step), its row in `base` times the stride,
    # so one multiply-add and one truncation a pixel. A flat one's: row = floor(base + k *
    # step), column = first + k.
    across_first = b_lo + (first + at) * slope + PAD
    base = across_first if flat else (first + PAD) * stride + across_first
    step = slope if flat else stride + slope

    # Chunks of lines of about one length. 16-bit keys sort by radix, ~10x faster.
    key = value * _BUCKETS + _BUCKET[np.minimum(n, len(_BUCKET) - 1)]
    order = np.argsort(key, kind="stable")
    key, n = key[order], n[order]
    base_t, step_t = torch.from_numpy(base[order]), torch.from_numpy(step[order])
    last_t = torch.from_numpy((n - 1).astype(np.float64))
    column_t = torch.from_numpy(first[order] + PAD) if flat else None
    runs = (np.flatnonzero(np.diff(key)) + 1).tolist()
    chunks = []
    for a, b in zip([0, *runs], [*runs, len(key)]):
        length = int(n[a:b].max())
        per = max(1, CHUNK // length)
        for c in range(a, b, per):
            d = min(b, c + per)
            shorter = None if n[c:d].min() == length else last_t[c:d]
            column = column_t[c:d] if flat else None
            chunk = _Chunk(
                int(key[a]) // _BUCKETS, length, base_t[c:d], step_t[c:d], shorter, column, length * (d - c)
            )
            chunks.append(chunk)
    return chunks
