"""Events: rule hits turned into new/update/end messages with stable ids, and their snapshots."""
