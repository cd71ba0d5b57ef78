"""Helpers every layer may use: input checks, progress bars, atomic file writes."""
