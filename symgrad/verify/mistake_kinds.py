"""The catalogue's mistake kinds: each one's explanation for students, and which are found how.

Kept apart from :mod:`.mistakes` (which builds the variants of a derivation) so that the list of kinds
reads as one table; :mod:`.mistakes` re-exports these names.
"""

MESSAGES = {
    "missing_transpose": "A transpose is missing (or one too many): check which factor must be transposed "
                         "so that every product has matching inner sizes.",
    "wrong_order": "The factors of a matrix product are in the wrong order; matrix products do not commute.",
    "hadamard_vs_matmul": "An element-wise (Hadamard) product is used where a matrix product belongs, "
                          "or the reverse.",
    "missing_factor_2": "The factor 2 from differentiating a square is missing (or, when a 1/2 stands in "
                        "front of the square, it was not cancelled by that 2).",
    "missing_mean_factor": "The 1/n factor of the mean is missing: the mean (or a sum divided by a count) "
                           "divides the sum by the number of terms, and so does its derivative.",
    "extra_mean_factor": "There is an extra 1/n: the answer divides by the number of terms once more than "
                         "the loss does (the mean's 1/n appears once in the derivative).",
    "chain_factor_dropped": "A factor of the chain rule is missing: every step from the loss back to the "
                            "variable multiplies in its own local derivative (an activation's derivative, "
                            "a weight matrix).",
    "regularization_dropped": "The regularization term's gradient is missing: the penalty (e.g. "
                              "lambda ||w||^2, whose gradient is 2 lambda w) is part of the loss too.",
    "term_dropped": "A term is missing: a variable used in several places collects a gradient from each "
                    "path (they add up), and the answer leaves one path out.",
    "extra_term": "The answer has a term too many: it adds a contribution that does not belong to this "
                  "gradient.",
    "sign_error": "The sign is wrong: the answer is the negative of the correct one.",
    "derivative_at_output": "The activation's derivative is evaluated at the wrong value: at the activation's "
                            "output instead of its input (pre-activation), or a formula written in terms of "
                            "the output (1 - tanh^2, sigma (1 - sigma)) is applied to the input.",
    "sigma_for_sigma_prime": "The activation itself is used where its derivative belongs "
                             "(sigma instead of sigma').",
    "bias_not_summed": "The bias gradient is not summed over the batch: a bias is shared by every row, "
                       "so the per-row gradients add up.",
    "bias_summed_wrong_axis": "The bias gradient is summed over the wrong axis (or over every axis): a bias "
                              "is shared by the rows of the batch, so its gradient sums the per-row gradients "
                              "over the batch axis only, one entry per output.",
    "statistics_as_constants": "The batch statistics (mean, variance) are treated as constants: they are "
                               "computed from the input too, so its gradient also flows through them (the "
                               "terms with sums over the batch are missing).",
    "concat_ones_kept": "The gradient of the concatenated ones column is kept; it is a constant, so its "
                        "column must be dropped.",
    "softmax_jacobian_diagonal": "The softmax Jacobian is treated as diagonal (p(1-p)); every output of a "
                                 "softmax depends on every input, so the off-diagonal -p_i p_j terms are missing.",
    "kink_convention": "The answer uses another value at the kink (e.g. ReLU'(0) = 1); the stated convention "
                       "is ReLU'(0) = 0.",
    "layout_transposed": "The answer is the transpose of the gradient: the numerator-layout Jacobian. The "
                         "gradient has the shape of the variable (denominator layout).",
    "not_accumulated": "The gradient is assigned instead of added: a node (or parameter) used more than once "
                       "must collect every contribution (+=), so a second backward pass adds to the first.",
    "label_term_dropped": "The labels' term is missing: through softmax with a cross-entropy loss the scores' "
                          "gradient is p - y (the probabilities minus the one-hot labels, times the loss's 1/N "
                          "if it is a mean); the answer keeps p only.",
    "shape_only": "The values are right but the shape is not: the answer keeps a dimension of size 1 (a column "
                  "or row vector) where the gradient has the variable's own shape, or drops one it has. Reshape "
                  "it (or leave out the .T / keepdims that made it).",
    "unknown": "The answer differs from the correct one in a way none of the catalogued mistakes explains.",
}

CODE_ONLY = ("not_accumulated",)   # seen only in students' code, never in a formula
#: found not as a variant of the truth: by editing the answer (repair), or by its shape (an answer right
#: but for a dimension of size 1, judged in the gradient's shape by verify)
REPAIR_ONLY = ("extra_term", "shape_only")
MISTAKES = tuple(m for m in MESSAGES if m not in CODE_ONLY)
