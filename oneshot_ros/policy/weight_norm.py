"""Weight normalisation with data-dependent initialisation (Salimans & Kingma 2016).

Duan et al. (B.1) use weight normalisation with data-dependent init on "all dense and convolution
operations". Every Linear/Conv1d of the policy is built with `linear`/`conv1d` below, which wrap
it in torch.nn.utils.parametrizations.weight_norm (weight = g * v / ||v||, per output unit).

`data_dependent_init(model, run)` runs one forward pass (`run()`, e.g. on the first training
batch) and, layer by layer in execution order, rescales g and the bias so that each unit's
pre-activation has zero mean and unit variance over that batch. A forward hook re-normalises the
layer's output before the next layer sees it, so later layers are initialised on the corrected
activations, as in the paper. Statistics include padded (zero) entries of the batch; layers
without bias get only the scale. Layers called more than once per forward are initialised on
their first call.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrizations, parametrize

_EPS = 1e-6


def linear(n_in: int, n_out: int, weight_norm: bool = True, bias: bool = True) -> nn.Module:
    layer = nn.Linear(n_in, n_out, bias=bias)
    return parametrizations.weight_norm(layer) if weight_norm else layer


def conv1d(n_in: int, n_out: int, kernel: int, dilation: int = 1,
           weight_norm: bool = True) -> nn.Module:
    layer = nn.Conv1d(n_in, n_out, kernel, dilation=dilation)
    return parametrizations.weight_norm(layer) if weight_norm else layer


def weight_normed_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules()
            if isinstance(m, (nn.Linear, nn.Conv1d)) and parametrize_weight(m) is not None]


def parametrize_weight(module: nn.Module):
    """The (g, v) parameters of a weight-normed layer, or None."""
    params = getattr(module, "parametrizations", None)
    if params is None or not hasattr(params, "weight"):
        return None
    return params.weight.original0, params.weight.original1


@torch.no_grad()
def data_dependent_init(model: nn.Module, run) -> int:
    """Initialise every weight-normed layer from the activations of `run()`; returns the count."""
    done: set[int] = set()
    layers = weight_normed_layers(model)
    hooks = [layer.register_forward_hook(_make_hook(done)) for layer in layers]
    try:
        run()
    finally:
        for hook in hooks:
            hook.remove()
    return len(done)


def _make_hook(done: set[int]):
    def hook(module, inputs, output):
        if id(module) in done:
            return output
        done.add(id(module))
        channel_dim = 1 if isinstance(module, nn.Conv1d) else -1
        dims = [d for d in range(output.dim()) if d != channel_dim % output.dim()]
        mean = output.mean(dim=dims)  # (C,)
        if output.numel() > mean.numel():
            std = output.std(dim=dims, unbiased=False) + _EPS  # (C,)
        else:
            std = torch.ones_like(mean)  # one sample: keep the scale
        gain, _ = parametrize_weight(module)
        gain.div_(std.view(gain.shape))  # g' = g / std
        shape = [1] * output.dim()
        shape[channel_dim] = -1
        if module.bias is not None:
            module.bias.sub_(mean).div_(std)  # b' = (b - mean) / std
            return (output - mean.view(shape)) / std.view(shape)
        return output / std.view(shape)

    return hook


def fold_weight_norm(model: nn.Module) -> nn.Module:
    """Replace every weight-norm parametrization by its current plain weight (in place).

    For inference only (the Imitator works on a folded copy): the weight is g * v / ||v||
    computed once instead of at every call, which removes the parametrization overhead.
    Never fold a copy.deepcopy of a model still in use: the copy shares the injected
    Parametrized* layer classes, and folding deletes their `weight` property for both.
    """
    for layer in weight_normed_layers(model):
        parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
    return model
