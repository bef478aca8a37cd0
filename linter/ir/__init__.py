"""The model IR: what a frontend knows about a network, framework-neutral.

Frontends canonicalise (``nn.Linear``, ``keras.layers.Dense`` and an ONNX ``Gemm`` all become
``OpKind.LINEAR`` with ``attrs["bias"]``); checks read only this. Anything a frontend does not
recognise is ``UNKNOWN`` and breaks every pattern through it: unknown means silent.
"""

from nnlint.ir.graph import InputRef, ModelGraph, Op, Origin, TrainingSetup
from nnlint.ir.kinds import ACTIVATIONS, NORMS, SHAPE_ONLY, TRAINABLE, WEIGHTED, OpKind

__all__ = [
    "ACTIVATIONS",
    "NORMS",
    "SHAPE_ONLY",
    "TRAINABLE",
    "WEIGHTED",
    "InputRef",
    "ModelGraph",
    "Op",
    "OpKind",
    "Origin",
    "TrainingSetup",
]
