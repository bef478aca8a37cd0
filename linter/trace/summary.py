"""Summaries of one tensor for the trace: statistics and histograms.

They run on every value of every pass (a ResNet's 120 activations, twice), so their cost is
part of the trace's: each tensor is read in full once (``aminmax``: exact range, NaN/Inf),
the rest is computed on at most SUBSAMPLE evenly spaced values, and the scalars come back in
one transfer instead of one synchronising ``float()`` each.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch

from nnlint.ir import OpKind
from nnlint.trace.records import Histogram, Stats

K = OpKind
BINS = 30
#: Tensors larger than this are summarised from evenly spaced samples (per batch row).
SUBSAMPLE = 1 << 18
#: CPU tensors up to this size are summarised in numpy (:func:`_small_stats`).
SMALL = 1 << 16
_BOUNDED = {K.SIGMOID: (0.0, 1.0), K.TANH: (-1.0, 1.0)}
_NAN = float("nan")


def stats(value: torch.Tensor, kind: OpKind, units: bool = True) -> Stats:
    """Exact min, max and NaN/Inf; the moments and fractions from at most SUBSAMPLE evenly
    spaced samples of a big activation (a ResNet's early layers hold millions of values).
    ``units=False`` leaves out ``unit_spread``, the slowest of them (a reduction across
    channels): it is read for a weighted layer's training pass only (bad-init's claim of a
    constant init, which makes the layer's units identical)."""
    x = value.detach().float()
    whole = x
    if x.numel() == 0:
        return Stats(_NAN, _NAN, _NAN, _NAN, 0.0, 0.0, False)
    if x.device.type == "cpu" and x.numel() <= SMALL:
        return _small_stats(x.numpy(), kind, units)
    low, high = (v.item() for v in torch.aminmax(x))  # the one full read; NaN propagates
    nonfinite = not (math.isfinite(low) and math.isfinite(high))
    if x.numel() > SUBSAMPLE and x.dim() >= 2 and not nonfinite:
        step = -(-x[0].numel() // (SUBSAMPLE // x.shape[0]))
        x = x.reshape(x.shape[0], -1)[:, ::step]
    good = x[torch.isfinite(x)] if nonfinite else x.reshape(-1)
    if good.numel() == 0:
        return Stats(_NAN, _NAN, _NAN, _NAN, 0.0, 0.0, True)
    zeros = x == 0 if nonfinite else good == 0  # the same values; good is contiguous, x may be strided
    named = {"mean": good.mean(), "std": good.std(unbiased=False), "zeros": zeros.float().mean()}
    if kind in _BOUNDED:
        floor, ceiling = _BOUNDED[kind]
        named["saturated"] = ((good - floor).abs() < 1e-3).float().mean() + ((ceiling - good).abs() < 1e-3).float().mean()
    elif kind is K.SOFTMAX and x.dim() >= 2:
        named["saturated"] = (x.amax(dim=-1) > 1 - 1e-3).float().mean()
    if units and whole.dim() >= 2 and whole.shape[1] > 1 and whole.shape[0] > 1 and not nonfinite:
        per_unit = whole.reshape(whole.shape[0], whole.shape[1], -1)  # positions kept apart from units
        per_unit = per_unit[:, :, :: max(1, per_unit.numel() // SUBSAMPLE)]
        named["unit_spread"] = (per_unit - per_unit.mean(dim=0, keepdim=True)).std(dim=1, unbiased=False).mean()
    if x.dim() >= 1 and x.shape[0] > 1 and not nonfinite:
        named["sample_spread"] = (x - x[:1]).abs().amax()
    if nonfinite:
        named["min"], named["max"] = good.min(), good.max()
    got = dict(zip(named, torch.stack(list(named.values())).tolist()))  # one transfer, one sync on CUDA
    return Stats(mean=got["mean"], std=got["std"], min=got.get("min", low), max=got.get("max", high),
                 zero_fraction=got["zeros"], saturated_fraction=got.get("saturated", 0.0), nonfinite=nonfinite,
                 unit_spread=got.get("unit_spread"), sample_spread=got.get("sample_spread"))


def _small_stats(x: np.ndarray, kind: OpKind, units: bool) -> Stats:
    """:func:`stats` of a small tensor in numpy: the same figures, with a tenth of torch's
    per-operation overhead (a small model's trace summarises some sixty tensors per pass). The
    moments are computed on centred values (no cancellation for a near-constant activation),
    each with one reduction rather than numpy's general ``std``."""
    flat = x.reshape(-1)
    low, high = float(np.minimum.reduce(flat)), float(np.maximum.reduce(flat))  # NaN propagates
    nonfinite = not (math.isfinite(low) and math.isfinite(high))
    good = flat[np.isfinite(flat)] if nonfinite else flat
    if good.size == 0:
        return Stats(_NAN, _NAN, _NAN, _NAN, 0.0, 0.0, True)
    mean = float(good.mean(dtype=np.float64))
    centred = good - np.float32(mean)
    std = math.sqrt(float(np.dot(centred, centred)) / good.size)
    saturated = 0.0
    if kind in _BOUNDED:
        floor, ceiling = _BOUNDED[kind]
        saturated = (np.count_nonzero(np.abs(good - floor) < 1e-3) + np.count_nonzero(np.abs(ceiling - good) < 1e-3)) \
            / good.size
    elif kind is K.SOFTMAX and x.ndim >= 2:
        saturated = float((x.max(axis=-1) > 1 - 1e-3).mean())
    unit_spread = sample_spread = None
    if units and x.ndim >= 2 and x.shape[1] > 1 and x.shape[0] > 1 and not nonfinite:
        per_unit = x.reshape(x.shape[0], x.shape[1], -1)
        across = per_unit - per_unit.mean(axis=0, keepdims=True)  # each unit's deviation per sample
        across -= across.mean(axis=1, keepdims=True)
        unit_spread = float(np.sqrt(np.einsum("bup,bup->bp", across, across) / x.shape[1]).mean())
    if x.ndim >= 1 and x.shape[0] > 1 and not nonfinite:
        sample_spread = float(np.maximum.reduce(np.abs(x - x[:1]), axis=None))
    zeros = (flat.size - np.count_nonzero(flat)) / flat.size  # over every value, NaN and Inf included
    return Stats(mean=mean, std=std, min=float(good.min()) if nonfinite else low,
                 max=float(good.max()) if nonfinite else high, zero_fraction=float(zeros),
                 saturated_fraction=float(saturated), nonfinite=nonfinite, unit_spread=unit_spread,
                 sample_spread=sample_spread)


def histogram(value: torch.Tensor) -> Optional[Histogram]:
    """BINS equal-width bins over the exact range of the finite values; a tensor over
    SUBSAMPLE values is counted from that many evenly spaced ones (histc reads about fifty
    times slower than a reduction: counting all of a ResNet's activations cost more than a
    forward pass)."""
    x = value.detach().float().reshape(-1)
    if x.numel() == 0:
        return None
    low, high = (v.item() for v in torch.aminmax(x))
    if not (math.isfinite(low) and math.isfinite(high)):
        x = x[torch.isfinite(x)]
        if x.numel() == 0:
            return None
        low, high = (v.item() for v in torch.aminmax(x))
    if low == high:
        low, high = low - 0.5, high + 0.5
    if x.numel() > SUBSAMPLE:
        x = x[:: -(-x.numel() // SUBSAMPLE)]
    counts = torch.histc(x.cpu(), bins=BINS, min=low, max=high)
    step = (high - low) / BINS
    return Histogram([low + i * step for i in range(BINS + 1)], [int(c) for c in counts.tolist()])
