"""Datasets in and out: DatasetSpec (TOML), Dataset, CXI files, HDF5 fields, validation, inspection, reconstructions."""
