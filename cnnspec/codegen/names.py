"""Which DSL names may become Python names in generated code, and how they are made safe.

Attribute names (layer and submodule labels) are the state_dict keys, so they are never
changed: one torch cannot register (an nn.Module attribute such as `forward`, `training`
or `to`, or a private `_name`) is refused with a diagnostic. The one exception holds no
state: a numbered layer without parameters or buffers in a class with a forward is named
after its op (`relu`, `relu2`, ...). Class, parameter and local names are free to choose:
a clash with a keyword, a builtin or a name the file defines is fixed with a suffix.
"""

from __future__ import annotations

import builtins
import keyword
import re

from cnnspec.syntax import TORCH_NAME

# dir(nn.Module) and dir(nn.Sequential) without the underscore names (torch 2.x); a test
# checks this list against the installed torch. torch refuses a submodule named like these.
MODULE_ATTRIBUTES = frozenset(
    """
    T_destination add_module append apply bfloat16 buffers call_super_init children compile cpu cuda
    double dump_patches eval extend extra_repr float forward get_buffer get_extra_state get_parameter
    get_submodule half insert ipu load_state_dict modules mtia named_buffers named_children named_modules
    named_parameters parameters pop register_backward_hook register_buffer register_forward_hook
    register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook
    register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module register_parameter
    register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule
    share_memory state_dict to to_empty train training type xpu zero_grad
    """.split()
)

# names the generated file itself defines or imports at module level
FILE_NAMES = frozenset(
    {"torch", "nn", "OrderedDict", "INPUT_SHAPE", "OUTPUT_SHAPE", "build_model", "LayerScale", "StochasticDepth", "Permute", "LayerNorm2d"}
)

RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins)) | FILE_NAMES | {"self"}

# attribute names for stateless layers, by op family (the op without 1d/2d/3d), as torchvision
# writes them; any other op is its CamelCase name in snake_case (LogSoftmax -> log_softmax)
LAYER_ATTRIBUTES = {
    "ReLU": "relu",
    "ReLU6": "relu6",
    "LeakyReLU": "leaky_relu",
    "SiLU": "silu",
    "MaxPool": "maxpool",
    "AvgPool": "avgpool",
    "AdaptiveAvgPool": "avgpool",
    "AdaptiveMaxPool": "maxpool",
    "Flatten": "flatten",
    "Dropout": "dropout",
}


def python_attribute(name: str) -> bool:
    """Whether generated code can write `self.name`; other names go through add_module and
    get_submodule (`12`, `block1-0`)."""
    return name.isascii() and name.isidentifier() and not keyword.iskeyword(name)


def attribute_problem(name: str) -> str | None:
    """Why `name` cannot be a submodule attribute, or None. Names reaching here are ASCII
    identifiers, digit strings (nn.Sequential children) or torch names such as `block1-0`,
    checked by the expansion."""
    if name.isdigit():
        return None
    if not python_attribute(name) and not (TORCH_NAME.match(name) and not keyword.iskeyword(name)):
        return "is not an ASCII Python identifier"
    if name.startswith("_"):
        return "starts with an underscore, which nn.Module keeps for its own state"
    if name in MODULE_ATTRIBUTES:
        return f"is an nn.Module attribute (module.{name}); torch cannot register a submodule under it"
    return None


def safe_name(name: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """`name`, or `name_` (then `name_2`, ...) where it is reserved or taken."""
    if name not in RESERVED and name not in taken:
        return name
    candidate, number = f"{name}_", 2
    while candidate in RESERVED or candidate in taken:
        candidate, number = f"{name}_{number}", number + 1
    return candidate


def layer_attribute(family: str, taken: set[str], tried: dict[str, int] | None = None) -> str:
    """A readable attribute for a stateless numbered layer of op `family`: `maxpool`, or
    `maxpool2` (then 3, ...) where a sibling has it or torch or Python reserves it.
    `tried`, shared by the calls for one set of siblings (whose `taken` only grows), keeps
    where each name's search stopped, so naming n layers alike is linear, not quadratic."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", family).lower()
    name = LAYER_ATTRIBUTES.get(family, snake)
    number = (tried or {}).get(name, 1)
    candidate = name if number == 1 else f"{name}{number}"
    while candidate in taken or candidate in RESERVED or attribute_problem(candidate):
        number += 1
        candidate = f"{name}{number}"
    if tried is not None:
        tried[name] = number
    return candidate


def class_name(name: str, taken: set[str]) -> str:
    """CamelCase from a definition name (`dense_layer` -> `DenseLayer`), unique in the file."""
    camel = "".join(part[:1].upper() + part[1:] for part in re.split(r"[\W_]+", name)) or "Module"
    if camel[0].isdigit():  # a label such as `12`
        camel = "Module" + camel
    candidate, number = camel, 2
    while candidate in RESERVED or candidate in taken:
        candidate, number = f"{camel}{number}", number + 1
    return candidate
