"""Why a model could not be traced; turned into an ``inconclusive`` verdict, never a crash."""


class CannotBuild(Exception):
    """The IR (or the ONNX graph) holds something the trace cannot rebuild faithfully."""
