"""How a fit runs: schedules of the engine's usage and loading steps, and restarts."""

from bcnmf.solvers.full_batch import FitResult, NonFiniteError, run_multiplicative_updates

__all__ = ["FitResult", "NonFiniteError", "run_multiplicative_updates"]
