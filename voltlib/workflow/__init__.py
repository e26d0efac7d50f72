"""Running it all: the notebook build, the Dask fan-out, the report, goldens, benchmarks and the command lines."""
