"""Reading the retailer's files: the data contract, loading, quarantine."""
