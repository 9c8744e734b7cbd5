"""tunewise's runtime: the CLI, settings, clients and interviewer around the tools and graphs."""
