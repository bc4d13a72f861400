"""Solver plug-ins and the registry that reads them."""
