"""Python source, whatever the framework: the analysis the engine runs on ``.py`` files and notebooks.

The Keras interpreter extends the PyTorch one, so one abstract run of a file understands
both frameworks (a project may mix them).
"""

from nnlint.frontends.keras_source import analyze

__all__ = ["analyze"]
