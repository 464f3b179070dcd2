import math

import torch

from selfsup.engine.optim import LARS, build_optimizer, warmup_cosine


def test_warmup_is_linear_then_cosine_reaches_zero():
    assert warmup_cosine(0, 10, 100) == 0.1
    assert warmup_cosine(9, 10, 100) == 1.0
    assert math.isclose(warmup_cosine(10, 10, 100), 1.0)
    assert math.isclose(warmup_cosine(55, 10, 100), 0.5, abs_tol=1e-9)
    assert math.isclose(warmup_cosine(100, 10, 100), 0.0, abs_tol=1e-12)


def test_lars_scales_step_by_trust_ratio_and_skips_biases():
    layer = torch.nn.Linear(4, 3)
    opt = build_optimizer(layer, "lars", lr=1.0, weight_decay=0.0, momentum=0.0)
    assert isinstance(opt, LARS)
    w0, b0 = layer.weight.detach().clone(), layer.bias.detach().clone()
    layer.weight.grad = torch.full_like(layer.weight, 2.0)
    layer.bias.grad = torch.full_like(layer.bias, 2.0)
    opt.step()
    trust = 0.001 * w0.norm() / layer.weight.grad.norm()
    assert torch.allclose(layer.weight, w0 - trust * 2.0)
    assert torch.allclose(layer.bias, b0 - 2.0)  # plain SGD for 1-D parameters
