"""mlp profile: homework 1's class against torch autograd, all nine (f, g)
pairs with MSE and BCE, in float64."""

import importlib.util
from collections import OrderedDict

import numpy as np
import pytest
import torch  # a test dependency: the generated mlp.py is for torch users

from symgrad.profiles import render

nn = torch.nn
F = torch.nn.functional

ACTIVATIONS = ["relu", "sigmoid", "identity"]
TORCH_ACTIVATION = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "identity": nn.Identity}


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    filename, text = render("mlp")
    path = tmp_path_factory.mktemp("mlp") / filename
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("mlp_generated", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(mlp, f, g, seed, loss):
    torch.manual_seed(seed)
    net = mlp.MLP(linear_1_in_features=3, linear_1_out_features=7, f_function=f,
                  linear_2_in_features=7, linear_2_out_features=4, g_function=g)
    net.parameters = {k: v.double() for k, v in net.parameters.items()}
    if loss == "bce" and g != "sigmoid":
        # keep y_hat inside (0, 1), where BCE is defined: small W2, b2 near 1/2
        net.parameters["W2"] = net.parameters["W2"] * 0.02
        net.parameters["b2"] = 0.5 + 0.05 * net.parameters["b2"]
    x = torch.randn(6, 3, dtype=torch.float64)
    y = torch.rand(6, 4, dtype=torch.float64) if loss == "bce" else torch.randn(6, 4, dtype=torch.float64)
    return net, x, y


def autograd_reference(net, f, g, x, y, loss):
    ref = nn.Sequential(OrderedDict([
        ("linear1", nn.Linear(3, 7)), ("f", TORCH_ACTIVATION[f]()),
        ("linear2", nn.Linear(7, 4)), ("g", TORCH_ACTIVATION[g]()),
    ])).double()
    with torch.no_grad():
        ref.linear1.weight.copy_(net.parameters["W1"])
        ref.linear1.bias.copy_(net.parameters["b1"])
        ref.linear2.weight.copy_(net.parameters["W2"])
        ref.linear2.bias.copy_(net.parameters["b2"])
    y_hat = ref(x)
    J = F.mse_loss(y_hat, y) if loss == "mse" else F.binary_cross_entropy(y_hat, y)
    ref.zero_grad()
    J.backward()
    return y_hat.detach(), J.detach(), {
        "dJdW1": ref.linear1.weight.grad, "dJdb1": ref.linear1.bias.grad,
        "dJdW2": ref.linear2.weight.grad, "dJdb2": ref.linear2.bias.grad}


@pytest.mark.parametrize("loss", ["mse", "bce"])
@pytest.mark.parametrize("g", ACTIVATIONS)
@pytest.mark.parametrize("f", ACTIVATIONS)
def test_gradients_match_torch_autograd(mlp, f, g, loss):
    net, x, y = build(mlp, f, g, seed=ACTIVATIONS.index(f) * 3 + ACTIVATIONS.index(g), loss=loss)
    net.clear_grad_and_cache()
    y_hat = net.forward(x)
    J, dJdy_hat = getattr(mlp, f"{loss}_loss")(y, y_hat)
    net.backward(dJdy_hat)
    ref_y_hat, ref_J, ref_grads = autograd_reference(net, f, g, x, y, loss)
    torch.testing.assert_close(y_hat, ref_y_hat, rtol=0, atol=1e-12)
    assert abs(float(J) - float(ref_J)) < 1e-10
    for key, expected in ref_grads.items():
        got = net.grads[key]
        assert got.shape == expected.shape and got.dtype == torch.float64, key
        error = (got - expected).abs().max().item()
        assert error < 1e-6, f"{key}: max abs error {error:.2e}\nours {got}\ntorch {expected}"


def test_backward_accumulates_and_clear_zeroes_in_place(mlp):
    net, x, y = build(mlp, "sigmoid", "relu", seed=0, loss="mse")
    net.forward(x)
    _, dJdy_hat = mlp.mse_loss(y, net.forward(x))
    net.backward(dJdy_hat)
    once = {k: v.clone() for k, v in net.grads.items()}
    net.backward(dJdy_hat)
    for key in once:
        torch.testing.assert_close(net.grads[key], 2 * once[key])
    tensors = dict(net.grads)
    net.clear_grad_and_cache()
    assert net.cache == {}
    for key, tensor in tensors.items():
        assert net.grads[key] is tensor and not tensor.any()


def test_interface_shapes_and_default_float32(mlp):
    net = mlp.MLP(2, 20, "relu", 20, 5, "identity")
    shapes = {k: tuple(v.shape) for k, v in net.parameters.items()}
    assert shapes == {"W1": (20, 2), "b1": (20,), "W2": (5, 20), "b2": (5,)}
    assert {k: tuple(v.shape) for k, v in net.grads.items()} == {
        "dJdW1": (20, 2), "dJdb1": (20,), "dJdW2": (5, 20), "dJdb2": (5,)}
    y_hat = net.forward(torch.randn(10, 2))
    assert isinstance(y_hat, torch.Tensor) and y_hat.shape == (10, 5)


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_losses_match_torch_losses_and_their_gradients(mlp, loss):
    torch.manual_seed(3)
    y = torch.rand(5, 3, dtype=torch.float64)
    y_hat = torch.rand(5, 3, dtype=torch.float64).clamp(0.05, 0.95).requires_grad_()
    J_ref = F.mse_loss(y_hat, y) if loss == "mse" else F.binary_cross_entropy(y_hat, y)
    J_ref.backward()
    J, dJdy_hat = getattr(mlp, f"{loss}_loss")(y, y_hat.detach())
    assert abs(float(J) - J_ref.item()) < 1e-12
    np.testing.assert_allclose(dJdy_hat.numpy(), y_hat.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_generated_file_uses_no_autograd():
    _, text = render("mlp")
    for forbidden in ("requires_grad", ".backward()", "autograd"):
        assert forbidden not in text.replace("no autograd", "")


def test_unknown_activation_is_refused(mlp):
    with pytest.raises(ValueError, match="tanh"):
        mlp.MLP(2, 3, "tanh", 3, 1, "identity")
