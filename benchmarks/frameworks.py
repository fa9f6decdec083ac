"""The same step in PyTorch eager and JAX jit, each imported only by its own worker process."""

from __future__ import annotations


def torch_step(net, params, inputs):
    """A function running one forward + backward in PyTorch eager (autograd)."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    if torch.get_num_interop_threads() != 1:
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
    P = {k: torch.from_numpy(v.copy()).requires_grad_(True) for k, v in params.items()}
    X = torch.from_numpy(inputs["X"])
    Y = torch.from_numpy(inputs["Y"])
    labels = Y.argmax(dim=1)

    def step():
        for p in P.values():
            p.grad = None
        A = X @ P["W1"] + P["b1"]
        if net == "relu_mse":
            Z = torch.relu(A) @ P["W2"] + P["b2"]
            loss = F.mse_loss(Z, Y)
        elif net == "sigmoid_bce":
            Pr = torch.sigmoid(torch.sigmoid(A) @ P["W2"] + P["b2"])
            loss = F.binary_cross_entropy(Pr, Y)
        else:
            Z = torch.relu(A) @ P["W2"] + P["b2"]
            loss = F.cross_entropy(Z, labels)
        loss.backward()
        return loss

    return step


def jax_step(net, params, inputs):
    """A function running one jitted value_and_grad in JAX (compiled before timing)."""
    import jax
    import jax.numpy as jnp

    def loss_fn(p, X, Y):
        A = X @ p["W1"] + p["b1"]
        if net == "relu_mse":
            Z = jax.nn.relu(A) @ p["W2"] + p["b2"]
            return jnp.mean((Z - Y) ** 2)
        if net == "sigmoid_bce":
            Pr = jax.nn.sigmoid(jax.nn.sigmoid(A) @ p["W2"] + p["b2"])
            return -jnp.mean(Y * jnp.log(Pr) + (1 - Y) * jnp.log1p(-Pr))
        Z = jax.nn.relu(A) @ p["W2"] + p["b2"]
        return -jnp.mean(jnp.sum(Y * jax.nn.log_softmax(Z, axis=-1), axis=-1))

    if params["W1"].dtype.name == "float64":
        jax.config.update("jax_enable_x64", True)
    f = jax.jit(jax.value_and_grad(loss_fn))
    P = {k: jnp.asarray(v) for k, v in params.items()}
    X, Y = jnp.asarray(inputs["X"]), jnp.asarray(inputs["Y"])

    def step():
        return jax.block_until_ready(f(P, X, Y))

    return step
