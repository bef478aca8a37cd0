"""Why a model could not be traced; turned into an ``inconclusive`` verdict, never a crash."""


class CannotBuild(Exception):
    """The IR (or the ONNX graph) holds something the trace cannot rebuild faithfully."""


class CannotRunAlone(Exception):
    """An op the trace's probes would run on an input of their own choosing reads another value
    that only the whole model computes (a second branch): the probe is skipped, and a finding
    that needed it says so."""


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's text on one line (torch's messages span several), or its type's name."""
    text = " ".join(str(exc).split())
    return text[:limit] if text else type(exc).__name__
