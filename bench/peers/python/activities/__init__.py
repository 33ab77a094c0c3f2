"""Activities of the benchmark contract, apart from the workflows as the sandbox wants."""
