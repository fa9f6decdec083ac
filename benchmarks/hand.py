"""Hand-written numpy baselines: the step a careful person writes without symgrad.

Written from the math, independently of symgrad's output: the usual
simplifications of the output layer ((p - y) / size for sigmoid + BCE and for
softmax + cross-entropy), in-place updates where they come naturally, a 0/1
mask for the ReLU derivative. Each returns (loss, {param: gradient}).
"""

from __future__ import annotations

import numpy as np


def _sigmoid(z):
    out = np.negative(z)
    np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


def relu_mse(params, inputs):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    X, Y = inputs["X"], inputs["Y"]
    A = X @ W1
    A += b1
    H = np.maximum(A, 0)
    Z = H @ W2
    Z += b2
    Z -= Y                                  # Z is now the residual
    loss = np.vdot(Z, Z) / Z.size
    Z *= 2 / Z.size                         # dL/dZ
    dW2 = H.T @ Z
    db2 = Z.sum(axis=0)
    dH = Z @ W2.T
    dH *= A > 0                             # dL/dA
    dW1 = X.T @ dH
    db1 = dH.sum(axis=0)
    return float(loss), {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def sigmoid_bce(params, inputs):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    X, Y = inputs["X"], inputs["Y"]
    A = X @ W1
    A += b1
    H = _sigmoid(A)
    Z = H @ W2
    Z += b2
    P = _sigmoid(Z)
    loss = -(np.vdot(Y, np.log(P)) + np.vdot(1 - Y, np.log1p(-P))) / P.size
    P -= Y
    P *= 1 / P.size                         # dL/dZ = (p - y) / size
    dW2 = H.T @ P
    db2 = P.sum(axis=0)
    dH = P @ W2.T
    H *= 1 - H                              # sigmoid'
    dH *= H                                 # dL/dA
    dW1 = X.T @ dH
    db1 = dH.sum(axis=0)
    return float(loss), {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def softmax_ce(params, inputs):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    X, Y = inputs["X"], inputs["Y"]
    n = X.shape[0]
    A = X @ W1
    A += b1
    H = np.maximum(A, 0)
    Z = H @ W2
    Z += b2
    Z -= Z.max(axis=1, keepdims=True)
    P = np.exp(Z)
    total = P.sum(axis=1, keepdims=True)
    loss = -(np.vdot(Y, Z) - np.log(total).sum()) / n   # one-hot rows: sum(y) = 1
    P /= total
    P -= Y
    P *= 1 / n                              # dL/dZ = (softmax - y) / n
    dW2 = H.T @ P
    db2 = P.sum(axis=0)
    dH = P @ W2.T
    dH *= A > 0
    dW1 = X.T @ dH
    db1 = dH.sum(axis=0)
    return float(loss), {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


STEPS = {"relu_mse": relu_mse, "sigmoid_bce": sigmoid_bce, "softmax_ce": softmax_ce}
