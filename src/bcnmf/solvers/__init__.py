"""How a fit runs: schedules of the engine's usage and loading steps, and restarts."""

from bcnmf.solvers.blocks import SCHEDULES, run_block_updates
from bcnmf.solvers.full_batch import (
    FitResult,
    NonFiniteError,
    run_full_batch,
)

__all__ = ["SCHEDULES", "FitResult", "NonFiniteError", "run_block_updates", "run_full_batch"]
