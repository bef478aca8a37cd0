"""The sizes and rates the trace stands in with where the code leaves one to run time.

A stand-in is a value that a finding does not depend on: the width of the data a layer
receives, the number of outputs of a last layer, a keep probability fed per run. Every builder
(torch source, Keras, TF1) and the run that measures a dropout alone take them from here, so a
stand-in reads the same in every verdict's evidence. No torch here.
"""

from __future__ import annotations

from typing import Any

#: The size a stand-in takes where the code's is only known at run time and sits on the data's
#: side of a layer (``nn.Linear(X.shape[1], 64)``, ``nn.Embedding(len(vocab), 32)``): the
#: statistics measured downstream do not depend on it (default inits scale with fan-in). Also
#: the side of a stand-in image fed to a first Keras convolution of unknown input shape.
STAND_IN = 32
#: Channels of an image input whose first convolution's ``in_channels`` is unknown.
STAND_IN_CHANNELS = 3
#: Steps of a sequence no one sizes (token ids, a recurrent layer's outputs).
SEQUENCE_LENGTH = 16
#: The outputs of a Linear whose number of outputs is only known at run time (classes, actions).
STAND_IN_OUTPUTS = 10
#: The feature maps of a convolution whose number of output channels is only known at run time.
STAND_IN_MAPS = 16
#: The drop rate traced where TF1 code feeds the keep probability at run time (a placeholder).
STAND_IN_RATE = 0.5
#: The layer arguments that are the size of the data the layer receives.
INPUT_SIZES = frozenset({"in_features", "num_features", "in_channels", "num_embeddings", "input_length"})
#: The sizes of a layer: the data it receives and the outputs it gives. A finding on a layer
#: stood in for elsewhere (its rate) depends on the stand-in whatever it reads; one whose layer's
#: size is stood in, only where its check reads sizes (``Check.reads_size_of``).
SIZES = INPUT_SIZES | {"out_features", "out_channels"}
#: The sizes of the outputs a layer gives: a measurement of each output unit (its std, for an
#: init judged against the fan-in) holds however many there are.
OUTPUT_SIZES = SIZES - INPUT_SIZES


def is_size(value: Any) -> bool:
    """A positive int (not a bool): a size the code states."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
