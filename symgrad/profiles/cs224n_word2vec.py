"""Course ``cs224n_word2vec``: Stanford CS224n assignment 2's ``word2vec.py``.

``naiveSoftmaxLossAndGradient`` and ``negSamplingLossAndGradient`` return
``(loss, gradCenterVec, gradOutsideVecs)`` for one center word vector and one
outside word; ``skipgram`` sums them over a window. Both gradients are the
derivations of the bundled specs word2vec_naive and word2vec_negsample,
printed as numpy: the outside word is a one-entry label (or index) array and
the negative samples an index array, whose adjoint adds the rows of a word
drawn twice. The samples come from the course's dataset object
(``dataset.sampleTokenIdx()``, redrawn while equal to the outside word), as
the course's ``getNegativeSamples`` draws them. Grading:
:mod:`.cs224n_word2vec_grading`.
"""

from __future__ import annotations

from ..derive import derive
from ..emit.numpy_module import HEADER
from ..emit.printers import NumpyPrinter
from . import Course
from .common import helper_sources
from .cs224n_word2vec_grading import SPECS, plan
from .derived import backward_function, forward_function


def context(spec=None) -> dict:
    """What templates/api/cs224n_word2vec.py.j2 places: each loss's value and gradients."""
    printer = NumpyPrinter()
    naive, neg = derive("word2vec_naive"), derive("word2vec_negsample")
    fns = {
        "naive_values": forward_function(naive, printer, "_naive_values", ("v_c", "o", "U"),
                                         "-log softmax(U @ v_c)[o], and every value the gradients read", loss=True),
        "naive_grads": backward_function(naive, printer, "_naive_grads", None, ("v_c", "U"),
                                         "(dJ/dv_c, dJ/dU) of the naive-softmax loss"),
        "neg_values": forward_function(neg, printer, "_neg_values", ("v_c", "o", "k", "U"),
                                       "-log sigmoid(u_o . v_c) - sum_k log sigmoid(-u_k . v_c)", loss=True),
        "neg_grads": backward_function(neg, printer, "_neg_grads", None, ("v_c", "U"),
                                       "(dJ/dv_c, dJ/dU) of the negative-sampling loss; a repeated sample adds twice"),
    }
    helpers = helper_sources(printer)
    return dict(header=HEADER.format(source="the bundled specs " + ", ".join(SPECS)), helpers=helpers, fns=fns,
                has_sigmoid=any(h.startswith("def sigmoid(") for h in helpers))


COURSE = Course("cs224n_word2vec", "CS224n assignment 2: word2vec.py (naive softmax, negative sampling, skipgram)",
                "word2vec.py", "api/cs224n_word2vec.py.j2", context, plan=plan)
