"""Step 1 measured: the base model and the prompted one scored on a held-out sample, before anything is decided."""
