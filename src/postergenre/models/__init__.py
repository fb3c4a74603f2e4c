"""Models trained on cached features: heads, their losses, and their training loop."""
