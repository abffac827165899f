"""Networks for the course: CIFAR ResNets, VGG-style nets, WideResNets and a toy MLP, behind one contract.

Every model has ``forward(x) == head(features(x))``, ``features(x) -> [B, D]``, ``stage_outputs(x)`` (an ordered
dict of per-stage activations whose last entry is ``features``), a linear ``head`` and ``num_features`` (D).
See :mod:`lsdl_ens.models.base` for the contract and initialisation, and :mod:`lsdl_ens.models.registry` for the
named configurations::

    torch.manual_seed(0)
    model = build_model("resnet8")          # 78k parameters, 10 classes
    replace_head(model, 100, seed=1)        # transfer: new Linear head, body kept
"""

from .base import ContractModel, count_parameters, init_weights, model_device, replace_head
from .mlp import MLP
from .registry import MODEL_NAMES, MODEL_TABLE, build_model
from .resnet import ResNet
from .vgg import VGG
from .wide_resnet import WideResNet

__all__ = [
    "MODEL_NAMES", "MODEL_TABLE", "build_model", "count_parameters", "replace_head", "init_weights", "model_device",
    "ContractModel", "ResNet", "VGG", "WideResNet", "MLP",
]
