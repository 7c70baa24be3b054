"""Development tooling of vaxreg: generated municipalities, benchmarks and the demo (not the product)."""
