"""dian: a hardware-generating compiler for neural networks.

The public Python API lives in :mod:`dian.api`; this module stays light so
that ``import dian.ir`` does not pull in torch.
"""

from .errors import DianError

__version__ = "0.1.0"

__all__ = ["DianError", "__version__"]
