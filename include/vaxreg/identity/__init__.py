"""Who a record is about: identifier validators, dates as the feeds write them, normalisation,
the identity matcher (名寄せ) and placing a record on a registry person."""
