"""Where user data goes: this machine, an in-house endpoint, or a hosted API; and refusing the last for private data."""
