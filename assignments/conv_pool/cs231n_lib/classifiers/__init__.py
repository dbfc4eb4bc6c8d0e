"""Models: ``ThreeLayerConvNet`` (CS231n) and the general ``ConvNet`` of the notes' layer pattern."""

from .cnn import ThreeLayerConvNet
from .convnet import ConvNet, dirac_init
from .fc_to_conv import fc_to_conv, fc_weights_as_filters, total_stride

__all__ = ["ThreeLayerConvNet", "ConvNet", "dirac_init", "fc_to_conv", "fc_weights_as_filters", "total_stride"]
