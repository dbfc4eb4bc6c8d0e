"""Known independent implementations of conv_pool (see the parent package for the format).
"""
