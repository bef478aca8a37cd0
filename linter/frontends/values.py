"""The abstract values the interpreter computes with.

Plain Python literals (int, float, str, bool, None, list, tuple, dict) stand for themselves;
everything else is one of the classes below. ``UNKNOWN`` is what the interpreter cannot know
statically, and everything built from it stays unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

import libcst as cst

from nnlint.ir import ModelGraph, OpKind

if TYPE_CHECKING:
    from nnlint.frontends.project import ModuleInfo


class _Unknown:
    _instance: Optional["_Unknown"] = None

    def __new__(cls) -> "_Unknown":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


@dataclass(eq=False)
class External:
    """A name from outside the project, fully qualified (``torch.nn.Linear``, ``numpy``)."""

    qualname: str


@dataclass(eq=False)
class ModuleRef:
    info: "ModuleInfo"
    #: The dotted name it was imported as, when that names a framework (a local ``torch/``):
    #: what it does not define is then the framework's (Python would fail with the local one).
    framework: Optional[str] = None


@dataclass(eq=False)
class Deferred:
    """A name an import statement binds, not resolved yet: ``from pkg import name`` or
    ``import pkg`` binds one of these, and the interpreter resolves it (parsing and running the
    project module) the first time the name is read. A file that imports a large package and
    uses one function of it so reads that function's module, not the whole package.
    ``value`` holds the resolution once made (it is the same for every reader)."""

    importer: "ModuleInfo"
    qualname: str
    level: int
    plain: bool  # ``import a.b`` (binds a module), not ``from a import b``
    value: Any = None
    resolved: bool = False


class FunctionRef:
    """A project function (a method, when ``owner`` is its class). Of an imported module parsed
    as a skeleton (:mod:`nnlint.bodies`), ``node`` is parsed whole the first time it is read:
    the stub's body is left out, and nothing reads a function's body but through ``node``.
    It is None when libcst cannot read that body."""

    __slots__ = ("_node", "module", "owner", "_bodies", "closure")

    def __init__(self, node: cst.FunctionDef, module: "ModuleInfo", owner: Optional["ClassRef"] = None,
                 closure: tuple[dict, ...] = ()) -> None:
        self._node: Optional[cst.FunctionDef] = node
        self.module = module
        self.owner = owner
        #: the local scopes of the functions it is defined in, innermost first (the live dicts, as
        #: Python's cells: a helper defined beside it, or bound after it, is seen when it runs)
        self.closure = closure
        bodies = module.source.bodies
        self._bodies = bodies if bodies is not None and node in bodies.stubs else None

    @property
    def node(self) -> Optional[cst.FunctionDef]:
        if self._bodies is not None:
            self._node, self._bodies = self._bodies.load(self._node), None
        return self._node


#: While a submodule build is recorded (:mod:`nnlint.frontends.module_reuse`), what takes the
#: class attributes it reads, as ``("class", cls, name, value)``: a class is read through
#: :meth:`ClassRef.lookup` from many places, and every one of them counts.
class_reads: Optional[Callable[[tuple], None]] = None


@dataclass(eq=False)
class ClassRef:
    node: cst.ClassDef
    module: "ModuleInfo"
    bases: list[Any]
    attrs: dict[str, Any] = field(default_factory=dict)  # class-level assignments and methods
    is_nn_module: bool = False
    is_dataclass: bool = False

    @property
    def name(self) -> str:
        return self.node.name.value

    def lookup(self, name: str) -> Any:
        found = self.resolve(name)
        if class_reads is not None:
            class_reads(("class", self, name, found))
        return found

    def resolve(self, name: str) -> Any:
        """:meth:`lookup`, unrecorded."""
        if name in self.attrs:
            return self.attrs[name]
        for base in self.bases:
            if isinstance(base, ClassRef):
                found = base.resolve(name)
                if found is not UNKNOWN:
                    return found
        return UNKNOWN


@dataclass(eq=False)
class Instance:
    """An object of a project class: a model, a config, a dataclass instance."""

    cls: ClassRef
    attrs: dict[str, Any] = field(default_factory=dict)
    graph: Optional[ModelGraph] = None  # built on first call, for nn.Module instances
    building: bool = False
    mode: Optional[str] = None  # "train" or "eval" when the code makes it known


@dataclass(eq=False)
class Layer:
    """A torch.nn layer or container, with its resolved constructor arguments."""

    qualname: str
    kind: OpKind
    attrs: dict[str, Any]
    node: Optional[cst.CSTNode]
    path: str
    label: str = ""
    children: Any = None  # list for Sequential/ModuleList, dict for ModuleDict
    parent: Optional["Layer"] = None  # the container, for labels such as self.layers[2]
    graph: Optional[ModelGraph] = None  # for a Sequential used as a model of its own
    mode: Optional[str] = None  # "train" or "eval" when the code makes it known
    inits: list[dict] = field(default_factory=list)  # init calls applied to its parameters
    #: what the code does to its weights' training: "requires_grad" (the values it assigns,
    #: UNKNOWN for one it cannot read), "optimized" (an optimizer's parameters include them)
    grads: dict = field(default_factory=dict)
    fresh: bool = False  # built while a forward runs and never made a submodule: always in training mode
    #: the branches of unknown condition open where it was built (``if load: torch.load(...)
    #: else: nn.Sequential(...)``): an init under exactly those runs wherever the layer exists
    branches: tuple = ()

    @property
    def short(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]

    def full_label(self, parent: Optional["Layer"] = None) -> str:
        """``self.net[2]``: a child's label completed with its container's."""
        label = self.label or self.short
        owner = parent or self.parent
        if label.startswith("["):
            prefix = owner.full_label() if owner is not None and owner is not self else "Sequential"
            label = prefix + label
        return label


@dataclass(eq=False)
class Pretrained:
    """A model built by a library nnlint does not read (``torchvision.models.resnet18()``,
    ``timm.create_model(...)``): its body is unknown. ``head`` names the attribute its forward
    ends with, where the library's API says so (a torchvision classifier's ``fc`` or
    ``classifier``); attributes the code assigns (``model.fc = nn.Linear(512, 1)``) are kept."""

    qualname: str
    head: Optional[str] = None
    attrs: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    graph: Optional[ModelGraph] = None  # when called from training code
    mode: Optional[str] = None


@dataclass(eq=False)
class Param:
    """``layer.weight`` or ``layer.bias``: the target of an init call."""

    layer: Any  # Layer, or UNKNOWN when the owner is not known
    name: str


@dataclass(eq=False)
class Tensor:
    """A tensor in the graph being built; ``model`` tags outputs of a model call."""

    graph: ModelGraph
    op: int
    model: Optional[ModelGraph] = None


@dataclass(eq=False)
class RawData:
    """Data at raw scale (0-255 pixels, unscaled features) on its way to a model."""

    what: str
    node: cst.CSTNode
    path: str
    guess: bool = False  # the raw scale is inferred from a name (a pixel CSV's file name), not read
    #: the values' range where the API that loads them fixes it (an image decoder's uint8 pixels:
    #: (0, 255); a published table's columns: (lows, highs), one per column), and that API in
    #: words; None where only the data knows (a CSV, a user function)
    bounds: Optional[tuple[Any, Any]] = None
    by: Optional[str] = None

    @property
    def per_column(self) -> bool:
        """A table's columns, each with its own range (``bounds`` of sequences)."""
        return self.bounds is not None and isinstance(self.bounds[0], (list, tuple))


@dataclass(eq=False)
class Dataset:
    name: str
    size: Optional[int]
    train: Optional[bool]
    transform: Any = None
    node: Optional[cst.CSTNode] = None
    parts: list = field(default_factory=list)  # the tensors a TensorDataset holds


@dataclass(eq=False)
class Rows:
    """The number of samples in ``of`` (``len(ds)``, ``X.shape[0]``, ``X.size(0)``), as a batch
    size: the whole data set in one batch. ``name`` is the expression it was read from (``X_train``)."""

    of: Any
    name: Optional[str]


@dataclass(eq=False)
class Loader:
    """A ``DataLoader``; ``record`` is its entry in the training setup."""

    record: dict


@dataclass(eq=False)
class Transforms:
    names: list[str]  # short names in order; "?" for anything unknown
    node: Optional[cst.CSTNode] = None
    unscaled_cast: bool = False  # a float cast that does not scale (ToDtype(float32) w/o scale)


@dataclass(eq=False)
class Loss:
    qualname: str
    task: str
    node: cst.CSTNode
    path: str


@dataclass(eq=False)
class ArgParser:
    defaults: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class Namespace:
    """The result of ``parse_args()``: attribute access gives the argument's default."""

    values: dict[str, Any]


@dataclass(eq=False)
class Bound:
    """A method looked up on a value, called later: ``layers.append``, ``x.view``."""

    obj: Any
    name: str


@dataclass(eq=False)
class Parameters:
    """``model.parameters()``: ties an optimizer to the model it trains (``layer`` for a bare
    layer trained on its own, ``nn.Linear(4, 1).parameters()``, which has no graph)."""

    graph: Optional[ModelGraph]
    layer: Optional["Layer"] = None
    modules: Optional[list] = None  # the module objects whose parameters these are, when known


@dataclass(eq=False)
class EveryParam:
    """The variable of a loop over ``module.parameters()``: each parameter of these modules."""

    modules: list


@dataclass(eq=False)
class Optimizer:
    """A torch.optim optimizer; ``record`` is its entry in the training setup."""

    record: dict


@dataclass(eq=False)
class NoGrad:
    """``torch.no_grad()`` and kin, as a context manager or decorator."""


@dataclass(eq=False)
class Method:
    """A project function bound to an object: ``super().__init__`` in a subclass."""

    func: FunctionRef
    obj: Any


@dataclass(eq=False)
class Super:
    """``super()`` inside a method of ``cls``: attribute lookups start at its bases."""

    cls: ClassRef
    obj: Any
