"""The graphs: the interview, the decision and the costed plan, approval, and the step runners that call the tools."""
