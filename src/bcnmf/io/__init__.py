"""Inputs of the front end: files the command line reads, and target / background taken from an
AnnData."""
