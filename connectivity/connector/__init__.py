"""Wiring: the Connector base, request pipeline and stream bookkeeping."""
