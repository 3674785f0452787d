"""Gaizao (改造): the system that runs the renovation of old urban residential estates."""
