"""The numpy simulator: DatasetSpec -> Dataset."""
