"""Demonstration data: the Episode record, versioned HDF5 storage, collection, paired loader."""
