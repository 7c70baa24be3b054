"""Retention (privacy.md P6): reviewed policies, the logged purge and its deletion certificate."""
