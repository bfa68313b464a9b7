"""Venue integrations. Each venue package has the same role-named modules."""
