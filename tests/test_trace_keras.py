"""--trace on Keras source: the layers rebuilt in torch with Keras's layout, defaults and optimizers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from nnlint.frontends.project import Project  # noqa: E402
from nnlint.frontends.python import analyze  # noqa: E402
from nnlint.trace.build import BuiltGraph, input_spec  # noqa: E402
from nnlint.trace.errors import CannotBuild  # noqa: E402
from nnlint.trace.measure import measure  # noqa: E402

from tests.test_trace import FIXTURES, traced  # noqa: E402

CPU = torch.device("cpu")


def keras_graph(tmp_path: Path, code: str, name: str = "model"):
    path = tmp_path / "keras_model.py"
    path.write_text(textwrap.dedent(code))
    project = Project({path: path.name})
    program = analyze(project.load(path), project, None)
    return next(g for g in program.graphs if g.name == name)


def test_the_keras_fixtures_findings_are_confirmed():
    findings = traced(FIXTURES / "buggy" / "keras_spellings.py") + traced(FIXTURES / "buggy" / "keras2_spellings.py")
    confirmed = {f.code for f in findings if f.trace["status"] == "confirmed"}
    assert {"NN001", "NN004", "NN007", "NN103", "NN105"} <= confirmed, [(f.code, f.trace) for f in findings]
    assert not any(f.trace["status"] == "refuted" for f in findings)


def test_layers_keep_keras_shapes_layout_and_defaults(tmp_path):
    graph = keras_graph(tmp_path, """
    from tensorflow import keras
    from tensorflow.keras import layers

    model = keras.Sequential([
        layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", input_shape=(9, 9, 3)),
        layers.BatchNormalization(),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(256),
        layers.Dense(4, activation="softmax"),
    ])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    """)
    built = BuiltGraph(graph, CPU)
    assert not built.broken, built.broken
    values = built(built.make_inputs(2, torch.Generator().manual_seed(0)))
    shapes = {graph.ops[i].type_name.rsplit(".", 1)[-1]: tuple(v.shape) for i, v in values.items()}
    assert shapes["Conv2D"] == (2, 5, 5, 8)  # TensorFlow's "same": ceil(9 / 2), channels last
    assert shapes["MaxPooling2D"] == (2, 2, 2, 8) and shapes["Flatten"] == (2, 32)
    dense = next(i for i, op in graph.ops.items() if op.attrs.get("keras", {}).get("units") == 256)
    weight, bias = built.params(dense)
    assert weight.shape == (256, 32) and float(bias.detach().abs().max()) == 0.0
    assert abs(float(weight.detach().std()) - (2 / (32 + 256)) ** 0.5) < 0.01  # Glorot uniform, Keras's default
    norm = next(layer for layer in built.layers.values() if isinstance(layer, torch.nn.BatchNorm1d))
    assert norm.eps == pytest.approx(1e-3) and norm.momentum == pytest.approx(0.01)
    trace = measure(built, graph, CPU)
    assert trace.optimizer == "SGD(lr=0.01, momentum=0)"  # Keras's default learning rate, not torch's
    assert trace.error is None and trace.problem is None


def test_what_cannot_be_rebuilt_says_why(tmp_path):
    recurrent = keras_graph(tmp_path, """
    from tensorflow import keras
    model = keras.Sequential([keras.layers.LSTM(8, input_shape=(5, 3)), keras.layers.Dense(1, activation="relu")])
    """)
    assert "recurrent" in next(iter(BuiltGraph(recurrent, CPU).broken.values()))
    unsized = keras_graph(tmp_path, """
    from tensorflow import keras
    model = keras.Sequential([keras.layers.Conv2D(8, 3), keras.layers.Flatten(), keras.layers.Dense(1)])
    """)
    stood_in = BuiltGraph(unsized, CPU)  # a first convolution fed a stand-in image, said as such
    assert not stood_in.broken and stood_in.specs[unsized.inputs[0]].shape == (1, 32, 32, 3)
    assert list(stood_in.stand_ins.values()) == ["model[0]'s in_channels unknown: traced with 3"]
    channels_first = keras_graph(tmp_path, """
    from tensorflow import keras
    model = keras.Sequential([keras.layers.Conv1D(8, 3, data_format="channels_first"), keras.layers.Dense(1)])
    """)
    with pytest.raises(CannotBuild, match="input size of model\\[0\\] \\(Conv1D\\) is not known"):
        input_spec(channels_first, channels_first.ops[channels_first.inputs[0]])
    sized = BuiltGraph(unsized, CPU, [6, 6, 1])
    assert not sized.broken and sized.specs[unsized.inputs[0]].shape == (1, 6, 6, 1)
    dense_first = keras_graph(tmp_path, """
    from tensorflow import keras
    model = keras.Sequential([keras.layers.Dense(8), keras.layers.Dense(1, activation="relu")])
    """)
    stood_in = BuiltGraph(dense_first, CPU)  # a Dense sized to a stand-in width, said as such
    assert not stood_in.broken and stood_in.specs[dense_first.inputs[0]].shape == (1, 32)
    assert list(stood_in.stand_ins.values()) == ["model[0]'s in_features unknown: traced with 32"]
    assert BuiltGraph(dense_first, CPU, [6]).stand_ins == {}  # a configured shape is no stand-in


def test_a_sequential_opened_by_keras_input_is_rebuilt_from_its_shape(tmp_path):
    (tmp_path / "model.py").write_text(textwrap.dedent("""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input(shape=(12, 12, 3)), layers.Conv2D(8, 3), layers.BatchNormalization(),
                              layers.Activation("relu"), layers.Flatten(), layers.Dense(1, activation="relu")])
    model.compile(optimizer="adam", loss="mse")
    """))
    found = {f.code: f.trace for f in traced(tmp_path)}
    assert found["NN001"]["status"] == "confirmed", found
    assert found["NN101"]["status"] == "confirmed", found  # Keras biases start at zero: the probe shifts them
    assert "model[1] (Conv2D)" in found["NN101"]["evidence"]


def test_a_first_batch_norm_of_run_time_width_stands_in_and_the_output_finding_is_measured(tmp_path):
    (tmp_path / "model.py").write_text(textwrap.dedent("""
    from keras import Sequential
    from keras.layers import BatchNormalization, Dense

    model = Sequential()
    model.add(BatchNormalization(input_shape=(x_train.shape[1],)))
    model.add(Dense(8, activation="relu"))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="mse", optimizer="adam")
    model.fit(x_train, y_train)
    """))
    [finding] = [f for f in traced(tmp_path / "model.py") if f.code == "NN001"]
    assert finding.trace["status"] == "confirmed", finding.trace
    assert "model[0]'s num_features unknown: traced with 32" in finding.trace["evidence"]


@pytest.mark.parametrize("layers, shape", [
    ("GRU(64, input_shape=(1, 12)), GRU(16)", "fed random inputs of 16 per sample"),
    ("LSTM(10, input_shape=(X.shape[1], X.shape[2]), return_sequences=True), Dense(20, activation='tanh')",
     "fed random inputs of 16x10 per sample"),
])
def test_the_head_after_a_recurrent_layer_is_traced_alone_from_its_units(tmp_path, layers, shape):
    (tmp_path / "model.py").write_text(textwrap.dedent(f"""
    from keras.models import Sequential
    from keras.layers import Dense, GRU, LSTM

    model = Sequential([{layers}, Dense(1, activation="relu")])
    model.compile(loss="mean_squared_error", optimizer="adam")
    """))
    [finding] = [f for f in traced(tmp_path / "model.py") if f.code == "NN001"]
    assert finding.trace["status"] == "confirmed", finding.trace
    assert "alone" in finding.trace["evidence"] and shape in finding.trace["evidence"], finding.trace


def test_same_padding_pooling_counts_only_real_cells(tmp_path):
    graph = keras_graph(tmp_path, """
    from tensorflow import keras
    from tensorflow.keras import layers

    model = keras.Sequential([layers.MaxPooling2D(2, padding="same", input_shape=(5, 5, 1)),
                              layers.AveragePooling2D(2, padding="same")])
    """)
    built = BuiltGraph(graph, CPU)
    x = -torch.ones(1, 5, 5, 1)  # all negative: a zero pad would win a max, and pull an average up
    values = built({graph.inputs[0]: x})
    pooled = {graph.ops[i].type_name.rsplit(".", 1)[-1]: v for i, v in values.items() if i != graph.inputs[0]}
    assert pooled["MaxPooling2D"].shape == (1, 3, 3, 1) and float(pooled["MaxPooling2D"].max()) == -1.0
    assert pooled["AveragePooling2D"].shape == (1, 2, 2, 1) and torch.allclose(pooled["AveragePooling2D"], -torch.ones(1, 2, 2, 1))


@pytest.mark.parametrize("spelling", ["layers.Dropout(0.9)", "layers.Dropout(rate=0.8)"])
def test_a_keras_dropout_is_measured_against_its_inverted_rate(tmp_path, spelling):
    """NN007 on a Keras layer is an experiment too: the model rebuilt with the rate inverted
    drops about the share the code meant to keep."""
    path = tmp_path / "keras_dropout.py"
    path.write_text(textwrap.dedent(f"""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input(shape=(20,)), layers.Dense(64, activation="relu"), {spelling},
                              layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    """))
    [drop] = [f.trace for f in traced(path) if f.code == "NN007"]
    assert drop["status"] == "confirmed", drop
    rate = "0.1" if "0.9" in spelling else "0.2"
    assert f"with rate={rate} for model[2] (Dropout)" in drop["evidence"], drop


def test_a_dropout_of_run_time_rate_is_inconclusive_with_its_cause_not_a_crash(tmp_path):
    """A rate passed in (``keep_prob``) is what the finding is about, and only the run has it:
    inconclusive, with that cause, before any model is built. The model built for another
    finding runs the part after such a dropout alone, fed in its place: the dropout itself is
    never run (before, probing it failed the whole model with a KeyError)."""
    path = tmp_path / "keras_keep.py"
    path.write_text(textwrap.dedent("""
    from keras.models import Sequential
    from keras.layers import Dense, Dropout

    def build(n_features, keep_prob):
        model = Sequential()
        model.add(Dense(128, input_dim=n_features, activation="relu"))
        model.add(Dropout(rate=keep_prob))
        model.add(Dense(64, activation="relu", kernel_initializer="zeros"))
        model.add(Dropout(rate=keep_prob))
        model.add(Dense(1, activation="sigmoid"))
        model.compile(optimizer="adam", loss="binary_crossentropy")
        return model
    """))
    findings = traced(path)
    verdicts = [f.trace for f in findings if f.code == "NN007"]
    assert len(verdicts) == 2, verdicts
    for trace in verdicts:
        assert trace["status"] == "inconclusive", trace
        assert trace["evidence"].startswith("the value of keep_prob is not known to the analysis"), trace
    [init] = [f.trace for f in findings if f.code == "NN004"]
    assert "internal error" not in init["evidence"], init
