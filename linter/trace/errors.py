"""Why a model could not be traced; turned into an ``inconclusive`` verdict, never a crash."""


class CannotBuild(Exception):
    """The IR (or the ONNX graph) holds something the trace cannot rebuild faithfully."""


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's text on one line (torch's messages span several), or its type's name."""
    text = " ".join(str(exc).split())
    return text[:limit] if text else type(exc).__name__
