"""tunewise tools: typed capabilities (validate, split, estimate, index, search, train, evaluate, deploy)."""
