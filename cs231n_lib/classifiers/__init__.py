"""Models: ``ThreeLayerConvNet`` (CS231n) and the general ``ConvNet`` of the notes' layer pattern."""

from .cnn import ThreeLayerConvNet

__all__ = ["ThreeLayerConvNet"]
