"""Student-style submissions for the patterns of issue 18, written for these tests (none copied).

Each is plain code as a student writes it, not symgrad's generated file: ``MLP_*``
for the mlp course (relu -> sigmoid, as spec ``hw1_relu_sigmoid_bce``), ``NODES_*``
for the nodes course, ``PSET3_*`` for problem set 3.
"""

MLP_CORRECT = '''
import torch


class MLP:
    def __init__(self, linear_1_in_features, linear_1_out_features, f_function,
                 linear_2_in_features, linear_2_out_features, g_function):
        self.f_function, self.g_function = f_function, g_function
        self.parameters = dict(W1=torch.randn(linear_1_out_features, linear_1_in_features),
                               b1=torch.randn(linear_1_out_features),
                               W2=torch.randn(linear_2_out_features, linear_2_in_features),
                               b2=torch.randn(linear_2_out_features))
        self.grads = {k: torch.zeros_like(v) for k, v in
                      dict(dJdW1=self.parameters['W1'], dJdb1=self.parameters['b1'],
                           dJdW2=self.parameters['W2'], dJdb2=self.parameters['b2']).items()}
        self.cache = dict()

    def _act(self, name, z):
        if name == 'relu':
            return torch.clamp(z, min=0)
        if name == 'sigmoid':
            return 1 / (1 + torch.exp(-z))
        return z

    def _act_grad(self, name, z, a):
        if name == 'relu':
            return (z > 0).to(z.dtype)
        if name == 'sigmoid':
            return a * (1 - a)
        return torch.ones_like(z)

    def forward(self, x):
        p = self.parameters
        z1 = x @ p['W1'].T + p['b1']
        z2 = self._act(self.f_function, z1)
        z3 = z2 @ p['W2'].T + p['b2']
        y_hat = self._act(self.g_function, z3)
        self.cache.update(x=x, z1=z1, z2=z2, z3=z3, y_hat=y_hat)
        return y_hat

    def backward(self, dJdy_hat):
        c, p = self.cache, self.parameters
        dz3 = dJdy_hat * self._act_grad(self.g_function, c['z3'], c['y_hat'])
        dz2 = dz3 @ p['W2']
        dz1 = dz2 * self._act_grad(self.f_function, c['z1'], c['z2'])
        self.grads['dJdW2'] += dz3.T @ c['z2']
        self.grads['dJdb2'] += dz3.sum(0)
        self.grads['dJdW1'] += dz1.T @ c['x']
        self.grads['dJdb1'] += dz1.sum(0)

    def clear_grad_and_cache(self):
        for grad in self.grads.values():
            grad.zero_()
        self.cache = dict()


def mse_loss(y, y_hat):
    diff = y_hat - y
    J = (diff ** 2).mean()
    return J, 2 * diff / diff.numel()


def bce_loss(y, y_hat):
    J = -(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)).mean()
    dJdy_hat = (y_hat - y) / (y_hat * (1 - y_hat)) / y.numel()
    return J, dJdy_hat
'''


def mlp(old: str, new: str) -> str:
    assert old in MLP_CORRECT, old
    return MLP_CORRECT.replace(old, new)


#: gradients assigned (=), as most students write them: the homework never calls backward twice
MLP_ASSIGNS = mlp("        self.grads['dJdW2'] += dz3.T @ c['z2']\n        self.grads['dJdb2'] += dz3.sum(0)\n"
                  "        self.grads['dJdW1'] += dz1.T @ c['x']\n        self.grads['dJdb1'] += dz1.sum(0)\n",
                  "        self.grads['dJdW2'] = dz3.T @ c['z2']\n        self.grads['dJdb2'] = dz3.sum(0)\n"
                  "        self.grads['dJdW1'] = dz1.T @ c['x']\n        self.grads['dJdb1'] = dz1.sum(0)\n")
#: the loss value summed instead of averaged; its gradient right
MLP_WRONG_LOSS_VALUE = mlp("    J = (diff ** 2).mean()\n", "    J = (diff ** 2).sum()\n")
#: backward left as the starter's placeholder (pass)
MLP_STUBS = mlp("    def backward(self, dJdy_hat):\n        c, p = self.cache, self.parameters\n",
                "    def backward(self, dJdy_hat):\n        pass\n\n    def _unused(self, dJdy_hat):\n"
                "        c, p = self.cache, self.parameters\n")
#: forward crashes: backward and clear_grad_and_cache are not judged, not "crashed"
MLP_FORWARD_CRASHES = mlp("        z1 = x @ p['W1'].T + p['b1']\n", "        z1 = x @ p['W1'] + p['b1']\n")
#: the sigmoid's derivative left out of the chain (a dropped chain factor)
MLP_DROPS_FACTOR = mlp("        dz3 = dJdy_hat * self._act_grad(self.g_function, c['z3'], c['y_hat'])\n",
                       "        dz3 = dJdy_hat\n")
#: every gradient divided by the batch size once more
MLP_EXTRA_MEAN = mlp("        self.grads['dJdW1'] += dz1.T @ c['x']\n",
                     "        self.grads['dJdW1'] += dz1.T @ c['x'] / c['x'].shape[0]\n")


NODES_CORRECT = '''
import numpy as np


class VectorScalarAffineNode(object):
    def __init__(self, x, w, b, node_name):
        self.node_name, self.out, self.d_out = node_name, None, None
        self.x, self.w, self.b = x, w, b

    def forward(self):
        self.out = np.dot(self.x.out, self.w.out) + self.b.out
        self.d_out = np.zeros(np.shape(self.out))
        return self.out

    def backward(self):
        self.x.d_out += self.d_out * self.w.out
        self.w.d_out += self.d_out * self.x.out
        self.b.d_out += self.d_out
        return self.d_out

    def get_predecessors(self):
        return [self.x, self.w, self.b]


class SquaredL2DistanceNode(object):
    def __init__(self, a, b, node_name):
        self.node_name, self.out, self.d_out = node_name, None, None
        self.a, self.b = a, b

    def forward(self):
        self.diff = self.a.out - self.b.out
        self.out = np.sum(self.diff ** 2)
        self.d_out = np.zeros(np.shape(self.out))
        return self.out

    def backward(self):
        self.a.d_out += 2 * self.d_out * self.diff
        self.b.d_out -= 2 * self.d_out * self.diff
        return self.d_out

    def get_predecessors(self):
        return [self.a, self.b]


class L2NormPenaltyNode(object):
    def __init__(self, l2_reg, w, node_name):
        self.node_name, self.out, self.d_out = node_name, None, None
        self.l2_reg, self.w = np.array(l2_reg), w

    def forward(self):
        self.out = self.l2_reg * np.sum(self.w.out ** 2)
        self.d_out = np.zeros(np.shape(self.out))
        return self.out

    def backward(self):
        self.w.d_out += self.d_out * 2 * self.l2_reg * self.w.out
        return self.d_out

    def get_predecessors(self):
        return [self.w]


class SumNode(object):
    def __init__(self, a, b, node_name):
        self.node_name, self.out, self.d_out = node_name, None, None
        self.a, self.b = a, b

    def forward(self):
        self.out = self.a.out + self.b.out
        self.d_out = np.zeros(np.shape(self.out))
        return self.out

    def backward(self):
        self.a.d_out += self.d_out
        self.b.d_out += self.d_out
        return self.d_out

    def get_predecessors(self):
        return [self.a, self.b]


class AffineNode(object):
    def __init__(self, W, x, b, node_name):
        self.node_name, self.out, self.d_out = node_name, None, None
        self.W, self.x, self.b = W, x, b

    def forward(self):
        self.out = self.W.out @ self.x.out + self.b.out
        self.d_out = np.zeros(np.shape(self.out))
        return self.out

    def backward(self):
        self.W.d_out += np.outer(self.d_out, self.x.out)
        self.x.d_out += self.W.out.T @ self.d_out
        self.b.d_out += self.d_out
        return self.d_out

    def get_predecessors(self):
        return [self.W, self.x, self.b]


class TanhNode(object):
    def __init__(self, a, node_name):
        self.node_name, self.out, self.d_out = node_name, None, None
        self.a = a

    def forward(self):
        self.out = np.tanh(self.a.out)
        self.d_out = np.zeros(np.shape(self.out))
        return self.out

    def backward(self):
        self.a.d_out += self.d_out * (1 - self.out ** 2)
        return self.d_out

    def get_predecessors(self):
        return [self.a]


class SoftmaxNode(object):
    def __init__(self, z, node_name):
        self.node_name, self.out, self.d_out = node_name, None, None
        self.z = z

    def forward(self):
        e = np.exp(self.z.out - np.max(self.z.out))
        self.out = e / np.sum(e)
        self.d_out = np.zeros(np.shape(self.out))
        return self.out

    def backward(self):
        s = self.out
        self.z.d_out += s * (self.d_out - np.dot(self.d_out, s))
        return self.d_out

    def get_predecessors(self):
        return [self.z]


class NLLNode(object):
    def __init__(self, y_hat, y_true, node_name):
        self.node_name, self.out, self.d_out = node_name, None, None
        self.y_hat, self.y_true = y_hat, y_true

    def forward(self):
        self.out = -np.log(self.y_hat.out[self.y_true.out])
        self.d_out = np.zeros(np.shape(self.out))
        return self.out

    def backward(self):
        grad = np.zeros(np.shape(self.y_hat.out))
        grad[self.y_true.out] = -1 / self.y_hat.out[self.y_true.out]
        self.y_hat.d_out += self.d_out * grad
        return self.d_out

    def get_predecessors(self):
        return [self.y_hat, self.y_true]
'''


def nodes(old: str, new: str, count: int = 1) -> str:
    assert NODES_CORRECT.count(old) == count, old
    return NODES_CORRECT.replace(old, new)


#: constructor parameters named as a student likes; the course builds nodes positionally
NODES_RENAMED = nodes("    def __init__(self, W, x, b, node_name):\n"
                      "        self.node_name, self.out, self.d_out = node_name, None, None\n"
                      "        self.W, self.x, self.b = W, x, b\n",
                      "    def __init__(self, W1, inp, bias, name):\n"
                      "        self.node_name, self.out, self.d_out = name, None, None\n"
                      "        self.W, self.x, self.b = W1, inp, bias\n")
NODES_RENAMED = NODES_RENAMED.replace("    def __init__(self, y_hat, y_true, node_name):\n"
                                      "        self.node_name, self.out, self.d_out = node_name, None, None\n"
                                      "        self.y_hat, self.y_true = y_hat, y_true\n",
                                      "    def __init__(self, y_pred, y, node_name):\n"
                                      "        self.node_name, self.out, self.d_out = node_name, None, None\n"
                                      "        self.y_hat, self.y_true = y_pred, y\n")
#: the penalty's weight l2_reg left out of its gradient
NODES_DROPS_L2_REG = nodes("        self.w.d_out += self.d_out * 2 * self.l2_reg * self.w.out\n",
                           "        self.w.d_out += self.d_out * 2 * self.w.out\n")
#: the upstream gradient left out of the affine node's x gradient (a dropped chain factor)
NODES_DROPS_UPSTREAM = nodes("        self.x.d_out += self.d_out * self.w.out\n",
                             "        self.x.d_out += self.w.out\n")
#: TanhNode left as the starter: every method raises NotImplementedError
NODES_STUB_TANH = NODES_CORRECT.split("class TanhNode(object):")[0] + '''class TanhNode(object):
    def __init__(self, a, node_name):
        self.node_name, self.out, self.d_out = node_name, None, None
        self.a = a

    def forward(self):
        raise NotImplementedError

    def backward(self):
        raise NotImplementedError

    def get_predecessors(self):
        raise NotImplementedError


class SoftmaxNode(object):''' + NODES_CORRECT.split("class SoftmaxNode(object):")[1]
#: the graph's loss node returns a wrong value (sum of squares halved); the gradient is right
NODES_WRONG_LOSS_VALUE = nodes("        self.out = np.sum(self.diff ** 2)\n", "        self.out = np.sum(self.diff ** 2) / 2\n")


PSET3_42 = '''
import numpy as np


def relu(x):
    return np.maximum(0, x)


def loss(y_predicted, y_observed):
    return (y_predicted - y_observed) ** 2


def mlp(x, W0, W1, W2):
    r0 = (W0 * x).reshape(4)
    h0 = relu(r0)
    r1 = (W1 @ h0).reshape(2)
    h1 = relu(r1)
    return {"x": x, "r0": r0, "h0": h0, "r1": r1, "h1": h1, "y_predicted": W2 @ h1}


def relu_derivative(x):
    return (np.asarray(x) > 0).astype(float)


def d_loss_d_ypredicted(variable_dict, y_observed):
    return 2 * (variable_dict["y_predicted"] - y_observed)


def d_loss_d_W2(variable_dict, y_observed):
    return d_loss_d_ypredicted(variable_dict, y_observed) * variable_dict["h1"].reshape(2)


def d_loss_d_h1(variable_dict, W2, y_observed):
    return d_loss_d_ypredicted(variable_dict, y_observed) * W2.reshape(2)


def d_loss_d_r1(variable_dict, W2, y_observed):
    return d_loss_d_h1(variable_dict, W2, y_observed) * relu_derivative(variable_dict["r1"])


def d_loss_d_W1(variable_dict, W2, y_observed):
    return d_loss_d_r1(variable_dict, W2, y_observed).reshape(2, 1) @ variable_dict["h0"].reshape(1, 4)


def d_loss_d_h0(variable_dict, W1, W2, y_observed):
    return W1.reshape(2, 4).T @ d_loss_d_r1(variable_dict, W2, y_observed)


def d_loss_d_r0(variable_dict, W1, W2, y_observed):
    return d_loss_d_h0(variable_dict, W1, W2, y_observed) * relu_derivative(variable_dict["r0"])


def d_loss_d_W0(variable_dict, W1, W2, y_observed):
    return d_loss_d_r0(variable_dict, W1, W2, y_observed) * variable_dict["x"]
'''

#: two functions left as the starter has them
PSET3_STUBS = PSET3_42.replace('''def d_loss_d_W1(variable_dict, W2, y_observed):
    return d_loss_d_r1(variable_dict, W2, y_observed).reshape(2, 1) @ variable_dict["h0"].reshape(1, 4)''',
                               '''def d_loss_d_W1(variable_dict, W2, y_observed):
    """dloss/dW1"""
    pass''').replace('''def d_loss_d_W0(variable_dict, W1, W2, y_observed):
    return d_loss_d_r0(variable_dict, W1, W2, y_observed) * variable_dict["x"]''',
                     '''def d_loss_d_W0(variable_dict, W1, W2, y_observed):
    raise NotImplementedError("TODO")''')
