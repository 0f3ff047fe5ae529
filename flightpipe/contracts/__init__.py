"""Table contracts in one place: the source formats bronze keeps, the silver tables, the gold marts."""
