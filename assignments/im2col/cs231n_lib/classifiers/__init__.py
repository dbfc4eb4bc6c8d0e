"""Models: ``ThreeLayerConvNet`` (CS231n) and the general ``ConvNet`` of the notes' layer pattern."""

from .cnn import ThreeLayerConvNet
from .convnet import ConvNet
from .fc_to_conv import fc_to_conv, fc_weights_as_filters, total_stride

__all__ = ["ThreeLayerConvNet", "ConvNet", "fc_to_conv", "fc_weights_as_filters", "total_stride"]
