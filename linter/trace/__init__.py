"""``--trace``: confirm findings by rebuilding the model in torch and measuring a tiny run.

``build`` (IR -> torch modules) and ``onnx_exec``/``onnx_model`` (an ONNX graph on torch) make
a runnable model, ``measure`` records what the checks' ``confirm`` methods judge (``summary``
summarises one tensor; ``records``, ``evidence``, ``verdict``), ``run`` ties findings to
models, ``imported`` runs the user's own module in a subprocess for ``--trace-import``. Only ``verdict``, ``records`` and ``evidence``
are free of torch; the checks import nothing else from here.
"""
