"""One module per pitfall. Every ``Check`` subclass defined here is registered automatically."""
