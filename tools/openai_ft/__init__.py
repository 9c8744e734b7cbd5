"""OpenAI fine-tuning: prepare, price and run a job exactly once, and follow jobs afterwards."""
