"""The schedule as reviewed data and what is derived from it: calendar counting, the rule table,
the error check of a dose against a person's history, and the commission fees."""
