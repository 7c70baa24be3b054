"""The review queue: records not attached to a person without a human, and their resolution."""
