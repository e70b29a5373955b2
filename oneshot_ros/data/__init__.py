"""Demonstration data: the Episode record, versioned HDF5 storage, re-timing, the paired loader."""
