"""Test setup: make torchvision importable on this CPU-only torch, where installed.

torchvision's compiled operators (nms, roi_align, ...) are not registered on a torch build
other than the one its wheel was made for, and its import then fails while registering their
fake (meta) implementations. The tests use only its models and modules, so the registration
is made a no-op before torchvision is first imported. Only here: cnnspec itself never
imports torchvision.
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("torchvision") is not None:
    import torch

    torch.library.register_fake = lambda *args, **kwargs: lambda function: function
