"""The Spark engine: the analysis stages as Spark DataFrame programs giving polars' frames exactly."""
